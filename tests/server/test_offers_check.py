"""The server checks the offers tills applied against its campaigns: accepted ones give no discrepancy, a second
use of the same offer by a card or an offer outside the campaign's stores is flagged with the reason, and a
cheque offer is counted in the campaign analysis."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from programme.engine import local_day
from programme.points import default_rules
from programme.ticket import make_line, utc_now
from server.analytics import aggregate, campaigns
from server.analytics.campaigns import Campaign
from server.analytics.segments import SegmentSpec
from server.storage.desk_db import open_db
from server.ingest.store_api import open_store
from sync.codec import encode_ticket
from sync.topics import tickets as tickets_topic
from terminal.journal import Journal
from terminal.offers import apply_offers
from terminal.sale import sell

from ..fixtures.signing import signed, trust
from ..fixtures.headoffice import END, START, build_known_set, register_customers  # noqa: F401

LINES = [make_line("3017620422003", 1, 1500, category="grocery")]
TODAY = local_day(default_rules(), utc_now())  # the till's day (Paris), not UTC's: they differ before midnight UTC


@pytest.fixture
def office(office_target):
    path = office_target  # a SQLite file, then a PostgreSQL database: the offers are judged the same on both
    build_known_set(path)
    conn = open_db(path)
    conn.row_factory = None
    register_customers(conn)
    aggregate.refresh(conn)
    yield path, conn
    conn.close()


def create(conn, **changes) -> int:
    fields = dict(
        name="Cheque",
        segment=SegmentSpec(start=START, end=END),
        kind="cheque",
        cheque_cents=500,
        starts=TODAY - timedelta(days=2),
        ends=TODAY + timedelta(days=2),
        control_per_mille=300,
        seed=1,
    )
    return campaigns.create(conn, Campaign(**{**fields, **changes}))


def ingest(path, *tickets) -> None:
    store = open_store(path)
    try:
        store.ingest([(tickets_topic(t.terminal), t, encode_ticket(t)) for t in tickets], [], utc_now().isoformat())
    finally:
        store.close()


def till(tmp_path, terminal: str, payload: bytes) -> Journal:
    journal = Journal(tmp_path / f"{terminal}.db", terminal)
    apply_offers(journal.conn, signed("offers", payload), trust())
    return journal


def reasons(conn) -> dict[str, str]:
    return dict(
        conn.execute(
            "SELECT ticket_id, reason FROM discrepancies WHERE ticket_id LIKE 'S001-T05-%' "
            "OR ticket_id LIKE 'S001-T06-%' OR ticket_id LIKE 'S003-%'"
        )
    )


def test_a_second_use_and_a_store_outside_the_campaign_are_flagged(tmp_path, office):
    path, conn = office
    cheque = create(conn)
    bonus = create(conn, name="Bonus", kind="bonus_points", points=250, cheque_cents=0, stores=["S001"])
    target = conn.execute(
        "SELECT min(card) FROM campaign_members WHERE campaign_id = ? AND grp = 'target'", (cheque,)
    ).fetchone()[0]
    payload = campaigns.offers_payload(conn, TODAY)
    first, second = till(tmp_path, "S001-T05", payload), till(tmp_path, "S001-T06", payload)
    elsewhere = till(tmp_path, "S003-T01", payload)
    try:
        used = sell(first, LINES, target)
        assert {e.rule: e.points for e in used.points if e.rule.startswith("offer:")} == {
            f"offer:{bonus}": 250,
            f"offer:{cheque}": 0,
        }
        again = sell(second, LINES, target)  # this till never saw the card use them
        assert offer_rules(again) == [f"offer:{cheque}", f"offer:{bonus}"]
        assert offer_rules(sell(elsewhere, LINES, target)) == [f"offer:{cheque}"]  # the bonus is for S001 only
        with elsewhere.conn:  # a till that ignores the campaign's stores
            elsewhere.conn.execute("UPDATE offers SET stores = '' WHERE campaign = ?", (bonus,))
        wrong_store = sell(elsewhere, LINES, target)
        ingest(path, used, again, wrong_store)
    finally:
        for journal in (first, second, elsewhere):
            journal.close()
    base = used.points_earned - 250
    assert reasons(conn) == {
        again.id: (
            f"offer:{bonus} refused: card {target} already used this offer on ticket {used.id}; "
            f"offer:{cheque} refused: card {target} already used this offer on ticket {used.id}; "
            f"till gave {base + 250} points, rules 2026.1 give {base}: till has basket offer:{cheque} 0, "
            f"basket offer:{bonus} 250; rules give nothing"
        ),
        wrong_store.id: (
            f"offer:{bonus} refused: store S003 is not one of campaign {bonus}'s stores (S001); "
            f"till gave {base + 250} points, rules 2026.1 give {base}: till has basket offer:{bonus} "
            "250; rules give nothing"
        ),
    }
    aggregate.refresh(conn)
    analysis = campaigns.analyse(conn, cheque)
    # the ledger credits what head office accepts: one cheque; the second, refused, is a discrepancy above
    assert (analysis["redeemed"], analysis["cost_points"], analysis["cheques"], analysis["cheques_cents"]) == (
        1,
        0,
        1,
        500,
    )


def offer_rules(ticket) -> list[str]:
    return sorted(e.rule for e in ticket.points if e.rule.startswith("offer:"))


def test_a_late_evening_sale_counts_on_the_stores_day_not_the_utc_day(tmp_path, office, monkeypatch):
    """23:30 UTC on 15 January is already 16 January in Paris, the default rules' time zone: a campaign of the
    16th applies at the till, and the server dates the claim the same way."""
    path, conn = office
    late = datetime(2026, 1, 15, 23, 30, tzinfo=timezone.utc)
    the_16th = date(2026, 1, 16)
    bonus = create(
        conn, name="One day", kind="bonus_points", points=300, cheque_cents=0, starts=the_16th, ends=the_16th
    )
    target = conn.execute(
        "SELECT min(card) FROM campaign_members WHERE campaign_id = ? AND grp = 'target'", (bonus,)
    ).fetchone()[0]
    monkeypatch.setattr("terminal.sale.utc_now", lambda: late)
    journal = till(tmp_path, "S001-T05", campaigns.offers_payload(conn, the_16th))
    try:
        ticket = sell(journal, LINES, target)
    finally:
        journal.close()
    assert ticket.opened_at == late
    assert offer_rules(ticket) == [f"offer:{bonus}"]
    ingest(path, ticket)
    assert reasons(conn) == {}


def test_a_claim_after_the_campaign_was_stopped_is_refused_by_the_running_server(tmp_path, office):
    path, conn = office
    bonus = create(conn, name="Bonus", kind="bonus_points", points=250, cheque_cents=0)
    first_card, second_card = [
        r[0]
        for r in conn.execute(
            "SELECT card FROM campaign_members WHERE campaign_id = ? AND grp = 'target' ORDER BY card LIMIT 2", (bonus,)
        )
    ]
    journal = till(tmp_path, "S001-T05", campaigns.offers_payload(conn, TODAY))  # it never hears of the stop
    store = open_store(path)  # the server, running across the stop
    try:
        before = sell(journal, LINES, first_card)
        store.ingest([(tickets_topic(before.terminal), before, encode_ticket(before))], [], utc_now().isoformat())
        campaigns.stop(conn, bonus, TODAY - timedelta(days=1))
        after = sell(journal, LINES, second_card)
        store.ingest([(tickets_topic(after.terminal), after, encode_ticket(after))], [], utc_now().isoformat())
    finally:
        store.close()
        journal.close()
    base = after.points_earned - 250
    assert reasons(conn) == {
        after.id: (
            f"offer:{bonus} refused: the ticket is of {TODAY}, campaign {bonus} runs from {TODAY - timedelta(days=2)} "
            f"to {TODAY - timedelta(days=1)}; till gave {base + 250} points, rules 2026.1 give {base}: "
            f"till has basket offer:{bonus} 250; rules give nothing"
        )
    }


DAIRY = make_line("3017620422010", 1, 300, category="dairy")


def test_an_offer_whose_condition_the_lines_do_not_meet_is_refused(tmp_path, office):
    """A till that pays a category bonus on a basket without the category, or a cheque under the basket's
    threshold (here: a till whose offers lost their conditions), is corrected at ingest with why; a till that
    applies them only when met gives no discrepancy."""
    path, conn = office
    dairy = create(conn, name="Dairy", kind="bonus_points", points=250, cheque_cents=0, category="dairy")
    cheque = create(conn, name="Big basket", min_basket_cents=3000)
    cards = [
        r[0]
        for r in conn.execute(
            "SELECT card FROM campaign_members WHERE campaign_id = ? AND grp = 'target' ORDER BY card LIMIT 2",
            (dairy,),
        )
    ]
    assert all(
        conn.execute("SELECT grp FROM campaign_members WHERE campaign_id = ? AND card = ?", (cheque, card)).fetchone()[
            0
        ]
        == "target"
        for card in cards
    ), "the same seed draws the same groups"
    payload = campaigns.offers_payload(conn, TODAY)
    honest, careless = till(tmp_path, "S001-T05", payload), till(tmp_path, "S001-T06", payload)
    try:
        with careless.conn:  # a till that ignores the conditions
            careless.conn.execute("UPDATE offers SET category = '', min_basket_cents = 0")
        under = sell(honest, LINES, cards[0])  # 15.00 EUR of grocery: neither condition met
        assert offer_rules(under) == []
        met = sell(honest, [*LINES, *LINES, DAIRY], cards[0])  # 33.00 EUR, dairy among them
        assert offer_rules(met) == sorted([f"offer:{dairy}", f"offer:{cheque}"])
        forged = sell(careless, LINES, cards[1])
        assert offer_rules(forged) == sorted([f"offer:{dairy}", f"offer:{cheque}"])
        ingest(path, under, met, forged)
    finally:
        honest.close()
        careless.close()
    base = forged.points_earned - 250
    assert reasons(conn) == {
        forged.id: (
            f"offer:{dairy} refused: campaign {dairy} is on dairy: the ticket has no line of dairy that earns "
            f"points; offer:{cheque} refused: campaign {cheque} needs a basket of 30.00 EUR that earns points: "
            f"the ticket's is 15.00 EUR; till gave {base + 250} points, rules 2026.1 give {base}: till has basket "
            f"offer:{dairy} 250, basket offer:{cheque} 0; rules give nothing"
        )
    }
    balances = dict(conn.execute("SELECT card, sum(points) FROM ledger WHERE rule LIKE 'offer:%' GROUP BY card"))
    assert balances == {cards[0]: 250}  # the ledger credits what head office accepts
    aggregate.refresh(conn)
    analysis = campaigns.analyse(conn, cheque)
    assert (analysis["redeemed"], analysis["cheques"], analysis["cheques_cents"]) == (1, 1, 500)


def test_a_campaign_condition_out_of_bounds_is_refused_at_head_office(office):
    _, conn = office
    for changes, text in [
        ({"min_basket_cents": 100_001}, "a basket threshold is 0.00 to 1000.00 EUR: give one in that range"),
        ({"min_basket_cents": -1}, "a basket threshold is 0.00 to 1000.00 EUR: give one in that range"),
        ({"category": " "}, "a category offer needs the category's name: give one, or none for any basket"),
        ({"category": "x" * 41}, "a category's name is at most 40 characters: give a shorter one"),
    ]:
        with pytest.raises(campaigns.ServerError) as refused:
            create(conn, **changes)
        assert str(refused.value) == text
