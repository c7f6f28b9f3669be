"""Next best offer: offer types, the choice with its reason, holdouts drawn by hash, campaigns for the tills,
results against the holdout and the automatic stop (SQLite and PostgreSQL: the same choices and figures)."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone

import msgspec
import pytest

from programme.ticket import GENESIS_HASH, PointsEntry, Tender, Ticket, make_line, ticket_hash
from server.analytics import aggregate, campaigns, next_offer, offer_results
from server.analytics import offer_definitions
from server.analytics.offer_definitions import Choice, OfferType
from server.ingest import reasons
from programme.i18n import use_language
from server.storage.desk_db import open_db
from server.errors import ServerError

from ...fixtures.desk import Desk, text
from ...fixtures.headoffice import CARDS, close_office, store_tickets

DAY = date(2026, 2, 2)
NAMES = "ABCDEFGH"


def sale(terminal: str, seq: int, when: datetime, card: str, cents: int, extra: list | None = None) -> Ticket:
    lines = [make_line("3017620422003", 1, cents, category="fresh")]
    return Ticket(
        id=f"{terminal}-{seq:08d}",
        terminal=terminal,
        seq=seq,
        store=terminal[:4],
        cashier="c1",
        opened_at=when,
        closed_at=when,
        lines=lines,
        tenders=[Tender(kind="cash", cents=cents)],
        total_cents=cents,
        card=card,
        points=[PointsEntry(kind="earn", rule="base: 1 point per euro", points=cents // 100), *(extra or [])],
        rules_version="base-1",
        prev_hash=GENESIS_HASH,
    )


def chained(tickets: list[Ticket], prev: str = GENESIS_HASH) -> list[Ticket]:
    out = []
    for t in tickets:
        out.append(msgspec.structs.replace(t, prev_hash=prev))
        prev = ticket_hash(out[-1])
    return out


def history() -> list[Ticket]:
    """Customers 1-8 (cards A-H) shop every week of January in S001; 7 and 8 stop after the 10th."""
    made, seq = [], 0
    for week in range(4):
        for n, name in enumerate(NAMES):
            if n >= 6 and week >= 2:
                continue
            seq += 1
            made.append(
                sale(
                    "S001-T01",
                    seq,
                    datetime(2026, 1, 3 + 7 * week, 9, n, tzinfo=timezone.utc),
                    CARDS[name],
                    3000 + 500 * n,
                )
            )
    return chained(made)


def register(conn) -> None:
    at = "2025-01-01T00:00:00+00:00"
    with conn:
        for n, name in enumerate(NAMES, start=1):
            conn.execute(
                "INSERT INTO customers (id, name, consent_profiling, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
                (n, f"Customer {name}", int(n != 6), at, at),
            )
            conn.execute(
                "INSERT INTO cards (number, customer_id, status, issued_at, status_at) VALUES (?, ?, 'active', ?, ?)",
                (CARDS[name], n, at, at),
            )


@pytest.fixture
def conn(office_target):
    store_tickets(office_target, history())
    db = open_db(office_target)
    db.row_factory = None
    register(db)
    aggregate.refresh(db)
    yield db
    db.close()


FRESH = OfferType(
    name="100 points on fresh", kind="category_points", category="fresh", points=100, holdout_per_mille=500
)
WINBACK = OfferType(name="we miss you", kind="winback", points=200, holdout_per_mille=500)


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"name": " "}, "an offer type needs a name: give it one"),
        ({"kind": "discount"}, "offer type kind 'discount' is not one of category_points, basket_cheque, winback"),
        ({"category": ""}, "bonus points on a category need the category: give one"),
        ({"points": 0}, "give the bonus points, 1 to 10000"),
        ({"days": 61}, "an offer stays open 1 to 60 days: give days in that range"),
        ({"holdout_per_mille": 0}, "the holdout is 0.1% to 50% of the customers (per mille 1-500)"),
        ({"min_run_days": 400}, "the minimum run is 1 to 365 days: give one in that range"),
        (
            {"kind": "basket_cheque", "cheque_cents": 200},
            "a cheque above a basket threshold needs the threshold: give the basket's least amount, "
            "0.01 to 1000.00 EUR",
        ),
        (
            {"kind": "basket_cheque", "cheque_cents": 200, "min_basket_cents": 100_001},
            "a cheque above a basket threshold needs the threshold: give the basket's least amount, "
            "0.01 to 1000.00 EUR",
        ),
        ({"min_basket_cents": -1}, "a basket threshold is 0.00 to 1000.00 EUR: give one in that range"),
        ({"category": "x" * 41}, "a category's name is at most 40 characters: give a shorter one"),
    ],
)
def test_offer_types_are_checked(conn, changes, message):
    with pytest.raises(ServerError) as refused:
        offer_definitions.define(conn, msgspec.structs.replace(FRESH, **changes))
    assert str(refused.value) == message
    assert offer_definitions.offer_types(conn) == []


def test_holdout_is_a_stable_hash_near_its_share():
    keys = [f"customer:{n}" for n in range(10_000)]
    held = [k for k in keys if offer_definitions.held_out(7, k, 100)]
    assert 900 < len(held) < 1100
    assert held == [k for k in keys if offer_definitions.held_out(7, k, 100)]
    assert held != [k for k in keys if offer_definitions.held_out(8, k, 100)]  # each offer type its own holdout


def test_each_customer_gets_the_best_expected_offer_with_its_reason(conn):
    fresh, winback = offer_definitions.define(conn, FRESH), offer_definitions.define(conn, WINBACK)
    chosen = {c.customer: c for c in next_offer.choose(conn, DAY)}
    # customer 6 did not agree to profiling; 7 and 8 stopped coming (last visit 2026-01-10, weekly before)
    assert sorted(chosen) == [f"customer:{n}" for n in (1, 2, 3, 4, 5, 7, 8)]
    assert {k: c.offer_type for k, c in chosen.items()} == {
        **{f"customer:{n}": fresh for n in (1, 2, 3, 4, 5)},
        "customer:7": winback,
        "customer:8": winback,
    }
    seven = chosen["customer:7"]
    assert (seven.cell, seven.cards) == ("churn high", [CARDS["G"]])
    assert seven.reason.startswith("best expected: we miss you: last visit 22 days ago, usually every 7")
    assert chosen["customer:1"].reason.startswith(
        "best expected: 100 points on fresh: buys 1.0x the store's share of fresh; tickets with a fresh line that "
        "earns points: 4 of 4 recent tickets, chance 1.00 (everyone 1.00); +0.08 visits x 9.00 EUR margin"
    )
    for key, c in chosen.items():
        assert c.grp == ("holdout" if offer_definitions.held_out(c.offer_type, key, 500) else "target")

    made = next_offer.record(conn, DAY, list(chosen.values()), now="2026-02-02T06:00:00+00:00")
    assert len(made) == 2
    payload = msgspec.json.decode(campaigns.offers_payload(conn, DAY))
    pushed = {o["campaign"]: o for o in payload["offers"]}
    assert sorted(pushed) == made
    for c in chosen.values():
        offer = pushed[made[0] if c.offer_type == fresh else made[1]]
        assert (CARDS[NAMES[int(c.customer.split(":")[1]) - 1]] in offer["cards"]) == (c.grp == "target")
    assert pushed[made[1]]["kind"] == "bonus_points" and pushed[made[1]]["points"] == 200
    # the offer type's condition travels with the campaign: bonus points on fresh need a fresh line
    assert payload["schema"] == 2
    assert (pushed[made[0]]["category"], pushed[made[0]]["min_basket_cents"]) == ("fresh", 0)
    assert (pushed[made[1]]["category"], pushed[made[1]]["min_basket_cents"]) == (None, 0)
    assert (pushed[made[1]]["starts"], pushed[made[1]]["ends"]) == ("2026-02-02", "2026-02-08")
    stored = next_offer.choices_of(conn, "customer:7")
    assert [(s["offer"], s["reason"]) for s in stored] == [("we miss you", seven.reason)]
    # a customer with an offer open is not chosen again until it ends
    assert next_offer.choose(conn, DAY + timedelta(days=3)) == []
    assert len(next_offer.choose(conn, DAY + timedelta(days=7))) == 7


def test_a_cheque_type_pushes_its_basket_threshold(conn):
    cheque = offer_definitions.define(
        conn,
        OfferType(name="2 EUR from 30 EUR", kind="basket_cheque", cheque_cents=200, min_basket_cents=3000),
    )
    assert [(t["kind"], t["min_basket_cents"]) for t in offer_definitions.offer_types(conn)] == [
        ("basket_cheque", 3000)
    ]
    choices = [Choice("customer:1", [CARDS["A"]], cheque, "target", "price watcher", 10, "by hand")]
    (campaign_id,) = next_offer.record(conn, DAY, choices)
    (offer,) = msgspec.json.decode(campaigns.offers_payload(conn, DAY))["offers"]
    assert (offer["campaign"], offer["kind"], offer["cheque_cents"], offer["category"], offer["min_basket_cents"]) == (
        campaign_id,
        "cheque",
        200,
        None,
        3000,
    )


def window_tickets(cost_points: int, campaign_id: int, targets: list[str], holdouts: list[str]) -> list[Ticket]:
    """In the offer's days each customer spends about the same; the targets used the offer."""
    from ...fixtures.headoffice import last_hash  # noqa: F401 - the till's chain continues below

    made = []
    for n, name in enumerate(targets + holdouts):
        extra = [PointsEntry(kind="earn", rule=f"offer:{campaign_id}", points=cost_points)] if name in targets else []
        made.append(
            sale(
                "S001-T02", n + 1, datetime(2026, 2, 3, 10, n, tzinfo=timezone.utc), CARDS[name], 4000 + 100 * n, extra
            )
        )
    return chained(made)


def test_an_offer_that_costs_more_than_it_brings_is_stopped_and_head_office_told_why(conn, office_target):
    costly = offer_definitions.define(
        conn,
        OfferType(
            name="5000 points on fresh",
            kind="category_points",
            category="fresh",
            points=5000,
            holdout_per_mille=500,
            min_run_days=7,
        ),
    )
    targets, holdouts = list("ABCD"), list("EGH")
    keys = {name: f"customer:{NAMES.index(name) + 1}" for name in NAMES}
    choices = [
        Choice(keys[n], [CARDS[n]], costly, "target" if n in targets else "holdout", "affinity low", 10, "by hand")
        for n in targets + holdouts
    ]
    (campaign_id,) = next_offer.record(conn, DAY, choices)
    store_tickets(office_target, window_tickets(5000, campaign_id, targets, holdouts))
    aggregate.refresh(conn)
    assert conn.execute("SELECT count(*) FROM ledger WHERE rule = ?", (f"offer:{campaign_id}",)).fetchone()[0] == 4
    (r,) = offer_results.results(conn, DAY + timedelta(days=5))
    assert (r["targets"], r["holdouts"], r["days_run"]) == (4, 3, 6)
    # margin 30% of fresh spend; the targets' 5000 points cost 50.00 EUR each
    assert r["mean_target_cents"] == (1200 + 1230 + 1260 + 1290) / 4 - 5000
    assert r["mean_holdout_cents"] == (1320 + 1350 + 1380) / 3
    assert r["interval"]["high"] < 0
    assert offer_results.stop_harmful(conn, DAY + timedelta(days=5)) == []  # not run its minimum days yet
    (stopped,) = offer_results.stop_harmful(conn, DAY + timedelta(days=6), now="2026-02-08T07:00:00+00:00")
    low, high = r["interval"]["low"] / 100, r["interval"]["high"] / 100
    assert stopped["stopped_why"] == (
        f"stopped on 2026-02-08: after 7 days its customers brought -51.05 EUR net margin each against the "
        f"holdout, 95% interval {low:+.2f} to {high:+.2f} EUR (4 targets, 3 held out): the offer costs more "
        "than it brings"
    )
    assert [p["code"] for p in json.loads(stopped["stopped_json"])] == ["offer_type_harmful"]
    with use_language("fr"):  # what head office's pages show: the reason in the reader's language
        shown = reasons.shown(stopped["stopped_why"], stopped["stopped_json"]).replace("\xa0", " ")
    assert shown.replace("\u202f", " ") == (
        "arrêté le 08/02/2026 : après 7 jours, ses clients ont apporté -51,05 € de marge nette chacun face aux "
        f"témoins, intervalle à 95 % de {low:+.2f} € à {high:+.2f} € (4 ciblés, 3 témoins) : l'offre coûte plus "
        "qu'elle ne rapporte"
    ).replace(".", ",")
    assert campaigns.get(conn, campaign_id)["stopped_at"] == "2026-02-08T07:00:00+00:00"
    assert offer_definitions.offer_types(conn, active_only=True) == []
    with pytest.raises(ServerError) as refused:
        next_offer.choose(conn, DAY + timedelta(days=8))
    assert str(refused.value) == "no offer type defined (or all stopped): define one on the campaigns page first"


def test_the_campaigns_page_defines_offer_types_and_shows_why_one_stopped(
    tmp_path, fast_argon2, office_target, monkeypatch
):
    desk = Desk(tmp_path, office_target)
    try:
        store_tickets(desk.db_path, history())
        desk.conn.row_factory = None
        register(desk.conn)
        client = desk.client("head_office")
        response = desk.post(client, "/office/next-offers/types", name="", kind="winback", value="100")
        assert "an offer type needs a name: give it one" in text(response)
        response = desk.post(
            client,
            "/office/next-offers/types",
            name="we miss you",
            kind="winback",
            value="300",
            days="7",
            holdout_percent="50",
            min_run_days="7",
        )
        assert response.status_code == 302
        chosen = desk.post(client, "/office/next-offers/choose")
        assert chosen.status_code == 302
        page = text(client.get("/office/campaigns"))
        held = desk.conn.execute("SELECT count(*) FROM nbo_choices WHERE grp = 'holdout'").fetchone()[0]
        assert desk.count("nbo_choices") == 7
        assert (
            f"{7 - held} offre(s) choisie(s), {held} client(s) témoin(s) ; aucun broker n'est configuré : "
            "envoyez les offres quand vous serez prêt."
        ) in page
        with desk.conn:
            desk.conn.execute(
                "UPDATE nbo_offer_types SET stopped_at = '2026-02-08T07:00:00+00:00', "
                "stopped_why = 'stopped on 2026-02-08: the offer costs more than it brings'"
            )
        page = text(client.get("/office/campaigns"))
        assert "we miss you" in page and "reconquête, 300 points, 7 jours" in page
        assert "<strong>arrêté</strong>: stopped on 2026-02-08: the offer costs more than it brings" in page
        harmful = reasons.part(  # stopped by stop_harmful: its reason's parts beside the text
            "offer_type_harmful",
            day="2026-02-08",
            days=7,
            uplift_signed_cents=-5105,
            level_percent=95,
            low_signed_cents_bare=-5177,
            high_signed_cents=-5033,
            targets=4,
            holdouts=3,
        )
        with desk.conn:
            desk.conn.execute(
                "UPDATE nbo_offer_types SET stopped_why = ?, stopped_json = ?",
                (reasons.english([harmful]), reasons.to_json([harmful])),
            )
        page = text(client.get("/office/campaigns")).replace("\xa0", " ").replace("\u202f", " ")
        assert (
            "<strong>arrêté</strong>: arrêté le 08/02/2026 : après 7 jours, ses clients ont apporté -51,05 € de marge "
            "nette chacun face aux témoins, intervalle à 95 % de -51,77 € à -50,33 € (4 ciblés, 3 témoins) : "
            "l'offre coûte plus qu'elle ne rapporte"
        ) in page
        monkeypatch.setenv("LOYALTY_LANG", "en")
        page = text(client.get("/office/campaigns"))
        assert "Next best offers" in page and "win-back, 300 points, 7 days" in page
        assert "stopped on 08/02/2026: after 7 days its customers brought -€51.05 net margin" in page
    finally:
        close_office(desk)


def test_the_campaigns_page_defines_a_cheque_above_a_basket_threshold(tmp_path, fast_argon2, office_target):
    desk = Desk(tmp_path, office_target)
    try:
        client = desk.client("head_office")
        form = dict(name="2 EUR from 30", kind="basket_cheque", value="2", days="7", holdout_percent="10")
        response = desk.post(client, "/office/next-offers/types", **form)
        assert (
            "a cheque above a basket threshold needs the threshold: give the basket's least amount, 0.01 to 1000.00 EUR"
        ) in text(response)
        response = desk.post(client, "/office/next-offers/types", **form, min_basket="1000,01")
        assert "panier minimum 1000,01 est hors limites : au plus 1000 euros dans un sens ou dans l'autre" in text(
            response
        )
        assert desk.post(client, "/office/next-offers/types", **form, min_basket="30").status_code == 302
        (t,) = offer_definitions.offer_types(desk.conn)
        assert (t["kind"], t["cheque_cents"], t["min_basket_cents"]) == ("basket_cheque", 200, 3000)
        page = text(client.get("/office/campaigns"))
        assert "chèque de 2,00\u00a0€, dès un panier de 30,00\u00a0€, 7 jours" in page
    finally:
        close_office(desk)


def test_the_daily_job_from_the_command_line(conn, office_target):
    from click.testing import CliRunner

    from loyalty.cli import main

    command = ["server", "next-offers", "--db", office_target, "--day", "2026-02-02"]
    refused = CliRunner().invoke(main, command)
    assert refused.exit_code == 1
    assert refused.output == "Error: no offer type defined (or all stopped): define one on the campaigns page first\n"
    offer_definitions.define(conn, FRESH)
    offer_definitions.define(conn, WINBACK)
    result = CliRunner().invoke(main, command)
    assert result.exit_code == 0, result.output
    done = json.loads(result.output)
    assert (done["day"], done["customers"], done["targets"] + done["holdouts"], done["stopped"]) == (
        "2026-02-02",
        7,
        7,
        [],
    )
    assert len(done["campaigns"]) == 2 and "pushed" not in done


def test_the_job_reads_the_parquet_archive_when_given(conn, office_target, tmp_path):
    from click.testing import CliRunner

    from loyalty.cli import main
    from server.analytics import archive

    archive.export(conn, tmp_path / "archive")
    assert next_offer.eligible(conn, DAY, archive=tmp_path / "archive") == next_offer.eligible(conn, DAY)
    offer_definitions.define(conn, FRESH)
    result = CliRunner().invoke(
        main,
        ["server", "next-offers", "--db", office_target, "--day", "2026-02-02", "--archive", str(tmp_path / "archive")],
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["customers"] == 7


def test_what_similar_customers_did_corrects_the_prior(conn):
    """The measured uplift of a cell is blended in with the weight of the customers measured."""
    winback = offer_definitions.define(conn, WINBACK)
    (t,) = offer_definitions.offer_types(conn)
    p = next_offer.eligible(conn, DAY)["customer:7"]
    prior, cell, reason = next_offer.expected(t, p, {})
    assert cell == "churn high" and "similar customers" not in reason
    learnt = {(winback, "churn high"): (200, -500.0)}
    blended, _, reason = next_offer.expected(t, p, learnt)
    assert blended == round((200 * prior + 200 * -500.0) / 400)
    assert reason.endswith(f"; 200 similar customers (churn high) measured -5.00 EUR, blended {blended / 100:+.2f}")
    assert next_offer.expected(t, p, {(winback, "churn low"): (200, -500.0)})[0] == prior  # another cell


def test_the_head_office_doc_explains_the_model_its_limits_and_how_to_read_the_results():
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[3] / "docs" / "headoffice.md").read_text()
    part = doc[doc.index("## One to one: profiles, next best offers, holdouts") :]
    for needed in (
        "### Offer types and the choice",
        "expected uplift (prior)",
        "**Holdout**",
        "### Results and the automatic stop",
        "**Reading the results**",
        "### The generated-data check",
        "### Limits",
        "### The receipt's page: QR code, no log-in",
    ):
        assert needed in part, needed
    assert "**What meets a condition**" in doc and '"schema": 2' in doc
