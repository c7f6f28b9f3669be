"""The POS conversation through the API, in-process: open, identify, evaluate, redeem, commit, cancel, return,
reprint; each resent call answered once; every refusal a problem document with its exact text, nothing written."""

from __future__ import annotations

import pytest

from terminal import cardstate
from terminal.posapi import baskets

from .conftest import CARD, OIL, RAZORS, Pos, problem_of


def seed(pos, points: int) -> None:
    pos.host.run(
        lambda: cardstate.remember_balance(
            pos.host.session.journal.conn, CARD, points, "2026-01-01T00:00:00+00:00", first_name="Ana"
        )
    )


def test_a_sale_with_a_card_and_points_redeemed_closes_one_ticket_even_when_every_call_is_sent_twice(pos):
    seed(pos, 1000)
    calls = []

    def twice(path, body, key):
        first, second = pos.post(path, body, key=key), pos.post(path, body, key=key)
        assert (second.status_code, second.get_json()) == (first.status_code, first.get_json())
        calls.append(path)
        return first.get_json()

    basket = twice("/baskets", {"cashier": "bob"}, "open-1")["basket"]
    seen = twice(f"/baskets/{basket}/identify", {"card": CARD}, "identify-1")
    assert seen["card"] == {
        "masked": "*********0018",
        "first_name": "Ana",
        "tier": None,
        "balance": 1000,
        "balance_confirmed": False,
    }
    view = twice(f"/baskets/{basket}/evaluate", {"lines": [OIL, RAZORS]}, "evaluate-1")
    assert [(li["line"], li["total_cents"], li["vat_rate"], li["points"]) for li in view["lines"]] == [
        (1, 1084, 550, 10),
        (2, 191, 2000, 2),
    ]
    assert view["lines"][0]["rules"] == [{"rule": "base", "points": 10}]
    assert (view["points"], view["total_cents"], view["due_cents"]) == (12, 1275, 1275)
    assert view["redeemable"] == {"points": 1000, "cents": 1000, "cheques": 2, "cheque_cents": 500}
    redeemed = twice(f"/baskets/{basket}/redeem", {"kind": "points", "points": 300}, "redeem-1")
    assert (redeemed["points"], redeemed["deduct_cents"]) == (300, 300)
    assert (redeemed["basket"]["due_cents"], redeemed["basket"]["card"]["balance"]) == (975, 700)
    closed = twice(
        f"/baskets/{basket}/commit",
        {"pos_ticket": "POS1-0042", "tenders": [{"kind": "bank_card", "cents": 975}]},
        "commit-1",
    )
    assert closed["ticket"] == "S001-T01-00000001" and closed["points_redeemed"] == 300
    assert any("ticket S001-T01-00000001" in r for r in closed["receipt"]) and closed["control_slip"]
    assert any("cashier bob" in line for line in closed["receipt"])
    assert pos.count("tickets") == 1 and pos.count("outbox") == 1
    ticket = pos.host.run(lambda: pos.host.session.journal.find_ticket("S001-T01-00000001"))
    assert [(t.kind, t.cents) for t in ticket.tenders] == [("points", 300), ("bank_card", 975)]
    assert ticket.signature is None and ticket.card == CARD
    assert [li.vat_rate for li in ticket.lines] == [550, 2000]  # each line keeps the VAT rate the POS sent
    events = pos.host.run(lambda: pos.host.conn.execute("SELECT event, detail FROM pos_events ORDER BY id").fetchall())
    assert [e for e, _ in events] == ["opened", "identified", "redeemed points", "committed"]


def test_a_commit_of_the_same_pos_ticket_under_another_key_is_refused_and_names_our_ticket(pos):
    for attempt in (1, 2):
        basket = pos.open()
        pos.post(f"/baskets/{basket}/evaluate", {"lines": [RAZORS]})
        answer = pos.post(
            f"/baskets/{basket}/commit", {"pos_ticket": "T-7", "tenders": [{"kind": "cash", "cents": 191}]}
        )
    assert problem_of(answer) == (
        409,
        "pos_ticket_committed",
        "POS ticket T-7 was already committed as ticket S001-T01-00000001: give each ticket its own number",
    )
    assert pos.count("tickets") == 1


def test_the_same_key_with_another_body_is_refused_and_changes_nothing(pos):
    basket = pos.open()
    assert pos.post(f"/baskets/{basket}/evaluate", {"lines": [OIL]}, key="k-1").status_code == 200
    answer = pos.post(f"/baskets/{basket}/evaluate", {"lines": [RAZORS]}, key="k-1")
    assert problem_of(answer) == (
        422,
        "idempotency_key_reused",
        (
            "the Idempotency-Key k-1 was already used for another call: send a new key for each new call, and the "
            "same key only to resend the same call"
        ),
    )
    assert [li["gtin"] for li in pos.get(f"/baskets/{basket}").get_json()["lines"]] == [OIL["gtin"]]


def test_cancel_releases_the_basket_and_is_journaled(pos):
    basket = pos.open()
    pos.post(f"/baskets/{basket}/evaluate", {"lines": [OIL]})
    assert pos.delete(f"/baskets/{basket}", key="c-1").get_json() == {"basket": basket, "cancelled": True}
    assert pos.delete(f"/baskets/{basket}", key="c-1").get_json() == {"basket": basket, "cancelled": True}
    assert problem_of(pos.delete(f"/baskets/{basket}")) == (
        404,
        "basket_not_found",
        (f"no open basket {basket}: it was committed, cancelled or abandoned; open a new basket"),
    )
    assert pos.count("tickets") == 0 and pos.count("pos_events WHERE event = 'cancelled'") == 1
    pos.open()


def test_an_abandoned_basket_is_cancelled_and_journaled_after_the_timeout(pos, monkeypatch):
    basket = pos.open()
    pos.post(f"/baskets/{basket}/evaluate", {"lines": [OIL]})
    pos.now += baskets.ABANDON_AFTER - 1
    assert pos.host.run(pos.host.reap) is None
    pos.now += 2
    assert pos.host.run(pos.host.reap) == basket
    assert pos.count("pos_events WHERE event = 'abandoned'") == 1
    assert problem_of(pos.post(f"/baskets/{basket}/evaluate", {"lines": [OIL]}))[1] == "basket_not_found"
    assert pos.host.run(lambda: pos.host.session.basket.lines) == []


def test_the_reaper_thread_cancels_without_any_call(pos, monkeypatch):
    import threading

    monkeypatch.setattr(baskets, "REAP_EVERY", 0.01)
    pos.host.abandon_after = 0
    basket = pos.open()
    reaped = threading.Event()
    original = pos.host.reap

    def reap():
        done = original()
        if done == basket:
            reaped.set()
        return done

    pos.host.reap = reap
    pos.host.start_reaper()
    assert reaped.wait(10)
    assert pos.count("pos_events WHERE event = 'abandoned'") == 1


def test_a_return_and_a_reprint(pos):
    basket = pos.open()
    pos.post(f"/baskets/{basket}/identify", {"card": CARD})
    pos.post(f"/baskets/{basket}/evaluate", {"lines": [OIL, RAZORS]})
    sold = pos.post(f"/baskets/{basket}/commit", {"pos_ticket": "P-1", "tenders": [{"kind": "cash", "cents": 1275}]})
    ticket = sold.get_json()["ticket"]
    back = pos.post("/returns", {"ticket": ticket, "lines": [{"line": 1, "quantity": 1}]}, key="r-1")
    assert back.status_code == 200, back.get_json()
    assert back.get_json()["total_cents"] == -542 and back.get_json()["points_reversed"] == 5
    assert (
        pos.post("/returns", {"ticket": ticket, "lines": [{"line": 1, "quantity": 1}]}, key="r-1").get_json()
        == back.get_json()
    )
    assert pos.count("tickets") == 2
    copy = pos.post(f"/tickets/{ticket}/reprint").get_json()
    assert any("*** DUPLICATA 1 ***" in line for line in copy["receipt"])
    assert problem_of(pos.post("/tickets/S001-T01-00000099/reprint")) == (
        404,
        "ticket_not_found",
        ("no ticket S001-T01-00000099 in this till's journal: check the number at the foot of the receipt"),
    )


# -- refusals: exact texts, nothing written ---------------------------------------------------------------------
def test_without_a_valid_token_every_call_is_refused(pos):
    answer = pos.client.post("/baskets", json={}, headers={"Idempotency-Key": "a"})
    assert problem_of(answer) == (
        401,
        "unauthorized",
        (
            "this POS is not recognised: send the header Authorization: Bearer TOKEN with the token made for it by "
            "loyalty till pos-token"
        ),
    )
    assert problem_of(pos.post("/baskets", {}, token="not-the-token"))[1] == "unauthorized"
    assert pos.count("pos_events") == 0
    assert pos.client.get("/openapi.json").status_code == 200


def test_a_mutating_call_without_an_idempotency_key_is_refused(pos):
    answer = pos.client.post("/baskets", json={}, headers=pos.headers(False))
    assert problem_of(answer) == (
        400,
        "idempotency_key_missing",
        (
            "send an Idempotency-Key header with every POST and DELETE (a new random key per call, the same key when "
            "the call is sent again)"
        ),
    )
    assert pos.count("pos_events") == 0


@pytest.mark.parametrize(
    "line, detail",
    [
        ({**OIL, "quantity": 100_000}, "line 1: quantity must be at most 99999, got 100000"),
        ({**OIL, "quantity": 0}, "line 1: quantity must be at least 1, got 0"),
        ({**OIL, "unit_cents": 10_000_001}, "line 1: unit_cents must be at most 10000000, got 10000001"),
        ({**OIL, "unit_cents": 1.5}, "line 1: unit_cents must be a whole number (cents, points or units)"),
        ({**OIL, "gtin": "12345"}, "line 1: gtin: a GTIN is 8, 12, 13 or 14 digits"),
        ({**OIL, "vat_rate": 10_001}, "line 1: vat_rate must be at most 10000, got 10001"),
        ({**OIL, "colour": "red"}, "line 1: colour is not a field of this call: remove it"),
        ({k: v for k, v in OIL.items() if k != "category"}, "line 1: category is missing"),
        (
            {**OIL, "quantity": 99_999, "unit_cents": 10_000_000},
            "line 1 (3000000000014): amounts are limited to 100000000 cents a line",
        ),
        ({**OIL, "discount_cents": 5000}, "line 1: the discount €50.00 is more than the line's price €10.84"),
    ],
)
def test_a_line_out_of_bounds_is_refused_with_what_to_fix_and_the_basket_is_unchanged(pos, line, detail):
    basket = pos.open()
    pos.post(f"/baskets/{basket}/evaluate", {"lines": [RAZORS]})
    answer = pos.post(f"/baskets/{basket}/evaluate", {"lines": [line]})
    assert problem_of(answer) == (422, "invalid_request", detail)
    assert [li["gtin"] for li in pos.get(f"/baskets/{basket}").get_json()["lines"]] == [RAZORS["gtin"]]
    assert pos.count("pos_idempotency") == 2


def test_the_second_line_is_named_by_its_number(pos):
    basket = pos.open()
    answer = pos.post(f"/baskets/{basket}/evaluate", {"lines": [OIL, {**OIL, "quantity": "2"}]})
    assert problem_of(answer) == (
        422,
        "invalid_request",
        "line 2: quantity must be a whole number (cents, points or units)",
    )
    assert answer.get_json()["errors"] == [{"field": "lines.1.quantity", "detail": answer.get_json()["detail"]}]


def test_identify_refusals(pos):
    basket = pos.open()
    assert problem_of(pos.post(f"/baskets/{basket}/identify", {"phone": "+33612345678"})) == (
        422,
        "phone_not_available",
        "the till is offline: it cannot find a customer by phone number; scan or type the card",
    )
    assert problem_of(pos.post(f"/baskets/{basket}/identify", {"from_reader": True})) == (
        409,
        "no_card_on_reader",
        "no card is in the till's reader: insert the card, wait until it is read, then send this call again",
    )
    assert problem_of(pos.post(f"/baskets/{basket}/identify", {"card": CARD, "phone": "1"})) == (
        422,
        "invalid_request",
        "give exactly one of card, from_reader or phone",
    )
    status, code, detail = problem_of(pos.post(f"/baskets/{basket}/identify", {"card": "2900000000019"}))
    assert (status, code) == (422, "card_refused") and "check digit" in detail
    pos.host.run(lambda: cardstate.replace_hotlist(pos.host.session.journal.conn, {CARD: "lost"}))
    status, code, detail = problem_of(pos.post(f"/baskets/{basket}/identify", {"card": CARD}))
    assert (status, code) == (422, "card_refused") and "hot-list" in detail
    assert pos.get(f"/baskets/{basket}").get_json()["card"] is None
    assert pos.count("pos_events WHERE event = 'identified'") == 0


def test_the_card_in_the_reader_identifies_the_basket_until_it_is_taken_out(pos):
    from cardreader.identity import CardIdentity

    pos.host.card_read(CardIdentity(number=CARD, source="chip"))  # inserted before the POS opened the basket
    basket = pos.open()
    assert (
        pos.post(f"/baskets/{basket}/identify", {"from_reader": True}).get_json()["card"]["masked"] == "*********0018"
    )
    pos.host.card_gone()
    assert problem_of(pos.post(f"/baskets/{basket}/identify", {"from_reader": True}))[1] == "no_card_on_reader"


def test_commit_refusals_write_nothing(pos):
    seed(pos, 1000)
    basket = pos.open()
    assert problem_of(pos.post(f"/baskets/{basket}/commit", {"pos_ticket": "P", "tenders": []})) == (
        409,
        "basket_refused",
        "the basket is empty: send its lines (evaluate) first",
    )
    pos.post(f"/baskets/{basket}/identify", {"card": CARD})
    pos.post(f"/baskets/{basket}/evaluate", {"lines": [OIL]})
    pos.post(f"/baskets/{basket}/redeem", {"kind": "points", "points": 84})
    answer = pos.post(f"/baskets/{basket}/commit", {"pos_ticket": "P", "tenders": [{"kind": "cash", "cents": 1084}]})
    assert problem_of(answer) == (
        422,
        "tenders_mismatch",
        (
            "the tenders pay €10.84 but €10.00 is due (redeemed points already pay €0.84): send tenders that add up "
            "to what is due, change already given back"
        ),
    )
    assert problem_of(pos.post(f"/baskets/{basket}/evaluate", {"lines": [RAZORS]})) == (
        409,
        "basket_refused",
        "points were already redeemed on this basket: its lines cannot change now; cancel the basket to change them",
    )
    assert pos.count("tickets") == 0 and pos.count("ledger") == 0 and pos.count("outbox") == 0
    answer = pos.post(f"/baskets/{basket}/commit", {"pos_ticket": "P", "tenders": [{"kind": "cash", "cents": 1000}]})
    assert answer.status_code == 200 and pos.count("tickets") == 1


def test_redeem_refusals(pos):
    basket = pos.open()
    pos.post(f"/baskets/{basket}/evaluate", {"lines": [OIL]})
    assert problem_of(pos.post(f"/baskets/{basket}/redeem", {"kind": "points", "points": 10})) == (
        422,
        "redeem_refused",
        "no card on this ticket: identify the card (F2) before redeeming points",
    )
    pos.post(f"/baskets/{basket}/identify", {"card": CARD})
    assert problem_of(pos.post(f"/baskets/{basket}/redeem", {"kind": "points", "points": 10})) == (
        422,
        "redeem_refused",
        "not enough points: the card has 0 and 10 were asked; redeem at most 0",
    )
    assert problem_of(pos.post(f"/baskets/{basket}/redeem", {"kind": "points"})) == (
        422,
        "invalid_request",
        "points: give how many points to redeem",
    )
    assert problem_of(pos.post(f"/baskets/{basket}/redeem", {"kind": "points", "points": 10_000_001})) == (
        422,
        "invalid_request",
        "points must be at most 10000000, got 10000001",
    )
    assert pos.count("pos_events WHERE event LIKE 'redeemed%'") == 0


def test_a_loyalty_cheque_is_issued_and_printed_with_the_receipt(pos):
    seed(pos, 1200)
    basket = pos.open()
    pos.post(f"/baskets/{basket}/identify", {"card": CARD})
    pos.post(f"/baskets/{basket}/evaluate", {"lines": [OIL]})
    issued = pos.post(f"/baskets/{basket}/redeem", {"kind": "cheque"}).get_json()
    assert (issued["cheques"], issued["cheque_cents"], issued["points"], issued["deduct_cents"]) == (2, 500, 1000, 0)
    closed = pos.post(f"/baskets/{basket}/commit", {"pos_ticket": "P", "tenders": [{"kind": "cash", "cents": 1084}]})
    slips = closed.get_json()["cheques"]
    assert len(slips) == 2 and all("LOYALTY CHEQUE" in slip[0] for slip in slips)  # one slip per cheque, its serial
    assert pos.count("ledger WHERE kind = 'redeem' AND points = -1000") == 1


def test_one_basket_at_a_time(pos):
    basket = pos.open()
    assert problem_of(pos.post("/baskets", {})) == (
        409,
        "basket_open",
        (f"basket {basket} is still open: commit or cancel it before opening another"),
    )
    assert problem_of(pos.post("/returns", {"ticket": "S001-T01-00000001", "lines": [{"line": 1, "quantity": 1}]})) == (
        409,
        "basket_open",
        f"basket {basket} is still open: commit or cancel it before a return",
    )


def test_routing_and_body_problems(pos):
    assert problem_of(pos.get("/nowhere")) == (404, "not_found", "no such call: see /openapi.json for the calls")
    assert problem_of(pos.client.put("/baskets", headers=pos.headers())) == (
        405,
        "method_not_allowed",
        "PUT is not a method of /baskets: see /openapi.json",
    )
    answer = pos.client.post(
        "/baskets", data="{not json", headers={**pos.headers(), "Content-Type": "application/json"}
    )
    assert problem_of(answer) == (
        400,
        "malformed_request",
        "the body is not JSON: send a JSON object with Content-Type: application/json",
    )
    assert problem_of(pos.post("/baskets", [1, 2])) == (422, "invalid_request", "the body must be a JSON object")


def test_status(pos):
    assert pos.get("/status").get_json() == {
        "terminal": "S001-T01",
        "online": False,
        "backlog": 0,
        "rules_version": "2026.1",
        "reader": "none",
        "basket": None,
    }


def test_a_till_stopped_just_after_a_commit_never_closes_that_pos_ticket_twice(pos, tmp_path, monkeypatch):
    """The POS ticket number is tied to our ticket in the ticket's own transaction: a till that stops right after
    closing (before it could answer) refuses the POS's retry of the sale in a new basket, naming the ticket."""
    from terminal.posapi import baskets as module

    basket = pos.open()
    pos.post(f"/baskets/{basket}/evaluate", {"lines": [RAZORS]})

    def stopped(*args, **kwargs):
        raise SystemExit("the till stopped")

    monkeypatch.setattr(module.events, "record", stopped)  # whatever comes after the ticket's transaction
    monkeypatch.setattr(module.idempotency, "remember", stopped)
    with pytest.raises(SystemExit):
        pos.post(
            f"/baskets/{basket}/commit",
            {"pos_ticket": "P-9", "tenders": [{"kind": "cash", "cents": 191}]},
            key="commit-9",
        )
    monkeypatch.undo()
    monkeypatch.setenv("LOYALTY_LANG", "en")  # undo() also took back the pos fixture's English
    pos.close()
    restarted = Pos(tmp_path)
    try:
        assert problem_of(
            restarted.post(
                f"/baskets/{basket}/commit",
                {"pos_ticket": "P-9", "tenders": [{"kind": "cash", "cents": 191}]},
                key="commit-9",
            )
        ) == (
            409,
            "pos_ticket_committed",
            "POS ticket P-9 was already committed as ticket S001-T01-00000001: give each ticket its own number",
        )
        again = restarted.open()
        restarted.post(f"/baskets/{again}/evaluate", {"lines": [RAZORS]})
        answer = restarted.post(
            f"/baskets/{again}/commit", {"pos_ticket": "P-9", "tenders": [{"kind": "cash", "cents": 191}]}
        )
        assert problem_of(answer)[1] == "pos_ticket_committed"
        assert restarted.count("tickets") == 1
    finally:
        restarted.close()


def test_the_pos_chooses_the_language_of_the_cashiers_messages(pos):
    basket = pos.open()
    pos.post(f"/baskets/{basket}/evaluate", {"lines": [OIL]})
    tenders = {"pos_ticket": "P", "tenders": [{"kind": "cash", "cents": 1}]}
    english = pos.client.post(
        f"/baskets/{basket}/commit", json=tenders, headers={**pos.headers(), "Accept-Language": "en-GB,en;q=0.8"}
    )
    french = pos.client.post(
        f"/baskets/{basket}/commit", json=tenders, headers={**pos.headers(), "Accept-Language": "fr-FR"}
    )
    assert problem_of(english)[2].startswith("the tenders pay €0.01 but €10.84 is due")
    assert problem_of(french)[2].startswith("les paiements font 0,01\u00a0€ alors que 10,84\u00a0€ est dû")


def test_a_pos_token_replaced_while_the_till_serves_stops_working(pos, tmp_path, monkeypatch):
    from terminal.posapi import app as module
    from terminal.posapi.tokens import make_token

    monkeypatch.setattr(module, "TOKEN_RELOAD_EVERY", 0.0)
    old = pos.token.read_text().strip()
    assert pos.get("/status").status_code == 200
    pos.host.run(lambda: make_token(pos.host.conn, "POS-1", tmp_path / "pos-1.new"))
    new = (tmp_path / "pos-1.new").read_text().strip()
    assert problem_of(pos.client.get("/status", headers={"Authorization": f"Bearer {old}"}))[1] == "unauthorized"
    assert pos.client.get("/status", headers={"Authorization": f"Bearer {new}"}).status_code == 200


def test_an_offer_with_a_condition_is_listed_with_it_and_applied_only_when_met(pos):
    """The POS sees the card's offers with their conditions; the points follow the basket as it grows."""
    from datetime import timedelta

    import msgspec

    from programme.engine import local_day
    from programme.points import default_rules
    from programme.ticket import utc_now
    from terminal.offers import apply_offers

    from ...fixtures.signing import signed, trust

    today = local_day(default_rules(), utc_now())
    offer = {
        "campaign": 21,
        "name": "Hygiene",
        "kind": "bonus_points",
        "points": 150,
        "starts": (today - timedelta(days=1)).isoformat(),
        "ends": (today + timedelta(days=1)).isoformat(),
        "cards": [CARD],
        "category": "hygiene",
        "min_basket_cents": 1200,
    }
    message = signed("offers", msgspec.json.encode({"schema": 2, "offers": [offer]}))
    pos.host.run(lambda: apply_offers(pos.host.session.journal.conn, message, trust()))
    basket = pos.open()
    seen = pos.post(f"/baskets/{basket}/identify", {"card": CARD}, key="identify-1").get_json()
    assert seen["offers"] == [
        {
            "campaign": 21,
            "name": "Hygiene",
            "kind": "bonus_points",
            "points": 150,
            "cheque_cents": 0,
            "category": "hygiene",
            "min_basket_cents": 1200,
        }
    ]
    view = pos.post(f"/baskets/{basket}/evaluate", {"lines": [OIL, RAZORS]}, key="evaluate-1").get_json()
    assert view["basket_rules"] == []  # 1.91 EUR of hygiene: under the offer's 12.00
    more = {**RAZORS, "quantity": 7}  # 13.37 EUR of hygiene
    view = pos.post(f"/baskets/{basket}/evaluate", {"lines": [OIL, more]}, key="evaluate-2").get_json()
    assert view["basket_rules"] == [{"rule": "offer:21", "points": 150}]
