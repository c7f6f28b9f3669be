"""Head office's targeted offers at the till: kept from the retained message, applied at the sale once per
card (bonus points through the rules engine as `offer:<campaign id>`, or a loyalty cheque), shown on the
card panel and printed on the receipt by the campaign's name."""

import asyncio
import sqlite3
from datetime import timedelta

import msgspec
import pytest

from programme.engine import local_day
from programme.i18n import use_language
from programme.points import default_rules, earn_points
from programme.ticket import make_line, utc_now
from sync import topics
from sync.broker_url import parse_broker_url
from terminal.app import TillApp
from terminal.downlink import DownlinkListener
from terminal.errors import TillError
from terminal.journal import Journal
from terminal.offers import apply_offers as apply_signed
from terminal.offers import offers_for_card
from terminal.sale import sell
from terminal.till import TillSession

from ..fixtures.mqtt import RawPublisher
from ..fixtures.signing import signed, trust

pytestmark = pytest.mark.usefixtures("english")  # written when the till spoke only English

TARGET, CONTROL, OTHER = "2900000000018", "2900000000025", "2900000000032"
TODAY = local_day(default_rules(), utc_now())  # the store's day: the rules' time zone, Europe/Paris
LINES = [make_line("3017620422003", 2, 1000, category="grocery")]  # 20.00 EUR: 20 base points


def offer(
    campaign: int,
    kind: str = "bonus_points",
    *,
    cards=(TARGET,),
    starts=None,
    ends=None,
    stores=(),
    points: int = 300,
    cheque_cents: int = 0,
    name: str | None = None,
    **condition,
) -> dict:
    """One offer as server.analytics.campaigns.offers_payload publishes it (target cards only); `condition`:
    category, min_basket_cents (schema 2)."""
    return {
        **condition,
        "campaign": campaign,
        "name": name or f"campaign {campaign}",
        "kind": kind,
        "points": points if kind == "bonus_points" else 0,
        "cheque_cents": cheque_cents,
        "starts": (starts or TODAY - timedelta(days=1)).isoformat(),
        "ends": (ends or TODAY + timedelta(days=1)).isoformat(),
        "stores": list(stores),
        "cards": list(cards),
    }


def apply_offers(conn, data: bytes) -> int:
    return apply_signed(conn, data, trust())


def payload(*offers: dict) -> bytes:
    """The message as head office pushes it: in its signed envelope."""
    return signed(
        "offers",
        msgspec.json.encode(
            {
                "schema": 2 if any("category" in o or "min_basket_cents" in o for o in offers) else 1,
                "published_at": "2026-01-15T09:00:00+00:00",
                "offers": list(offers),
            }
        ),
    )


def earned(ticket) -> dict[str, int]:
    """Earned points by rule (summed over the lines)."""
    out: dict[str, int] = {}
    for e in ticket.points:
        if e.kind == "earn":
            out[e.rule] = out.get(e.rule, 0) + e.points
    return out


@pytest.fixture
def journal(tmp_path):
    with Journal(tmp_path / "till.db", "S001-T01") as journal:
        yield journal


def test_the_last_message_replaces_the_offers_and_a_bad_one_keeps_them(journal):
    assert apply_offers(journal.conn, payload(offer(1), offer(2, cards=[TARGET, OTHER]))) == 2
    assert [o.campaign for o in offers_for_card(journal.conn, OTHER, TODAY, "S001")] == [2]
    assert apply_offers(journal.conn, payload(offer(3))) == 1
    assert [o.campaign for o in offers_for_card(journal.conn, TARGET, TODAY, "S001")] == [3]
    assert offers_for_card(journal.conn, OTHER, TODAY, "S001") == []
    bad = [
        (
            signed("offers", b'{"schema": 1, "offers": [{"campaign": 4}]}'),
            "offers message not understood (Object missing required field `name` - at `$.offers[0]`): "
            "the till keeps its previous offers",
        ),
        (
            signed("offers", b'{"schema": 3, "offers": []}'),
            "offers message not understood (schema 3 (1 or 2 expected)): the till keeps its previous offers",
        ),
        (
            payload(offer(5, points=0)),
            "offers message not understood (campaign 5: a bonus points offer needs points above 0): "
            "the till keeps its previous offers",
        ),
        (
            signed("offers", b"[]"),
            "offers message not understood (Expected `object`, got `array`): the till keeps its previous offers",
        ),
    ]
    for message, text in bad:
        with pytest.raises(TillError) as refused:
            apply_offers(journal.conn, message)
        assert str(refused.value) == text
    assert [o.campaign for o in offers_for_card(journal.conn, TARGET, TODAY, "S001")] == [3]
    plan = journal.conn.execute(
        "EXPLAIN QUERY PLAN SELECT campaign FROM offer_cards WHERE card = ?", (TARGET,)
    ).fetchall()
    assert "USING PRIMARY KEY" in plan[0][-1]  # a look-up by card is an index hit


def test_a_target_card_earns_the_offer_once_and_others_do_not(journal):
    apply_offers(journal.conn, payload(offer(7, cards=[TARGET, OTHER], points=300)))
    base = {e.rule: e.points for e in earn_points(LINES, TARGET)}
    first = sell(journal, LINES, TARGET)
    assert earned(first) == {**base, "offer:7": 300}
    assert [e.line for e in first.points if e.rule == "offer:7"] == [None]  # a basket bonus
    assert earned(sell(journal, LINES, TARGET)) == base  # once per card
    assert earned(sell(journal, LINES, CONTROL)) == base  # held out: not in the message
    assert "offer:7" in earned(sell(journal, LINES, OTHER))
    assert sell(journal, LINES, None).points == []
    rows = journal.conn.execute("SELECT card, points FROM ledger WHERE rule = 'offer:7' ORDER BY id").fetchall()
    assert rows == [(TARGET, 300), (OTHER, 300)]


def test_an_offer_over_or_for_another_store_is_not_applied(journal):
    apply_offers(
        journal.conn,
        payload(
            offer(1, ends=TODAY - timedelta(days=1), starts=TODAY - timedelta(days=30)),
            offer(2, starts=TODAY + timedelta(days=1), ends=TODAY + timedelta(days=9)),
            offer(3, stores=["S002"]),
            offer(4, stores=["S002", "S001"], points=50),
        ),
    )
    assert [o.campaign for o in offers_for_card(journal.conn, TARGET, TODAY, "S001")] == [4]
    assert {rule for rule in earned(sell(journal, LINES, TARGET)) if rule.startswith("offer:")} == {"offer:4"}


DAIRY = make_line("3017620422010", 1, 300, category="dairy")
TOBACCO = make_line("3017620422027", 1, 1500, category="tobacco")


def test_a_category_bonus_needs_a_line_of_its_category(journal):
    apply_offers(journal.conn, payload(offer(11, category="dairy", points=150)))
    assert earned(sell(journal, LINES, TARGET)) == {"base": 20}  # no dairy: no bonus, and the offer stays open
    assert [o.campaign for o in offers_for_card(journal.conn, TARGET, TODAY, "S001")] == [11]
    with_dairy = sell(journal, [*LINES, DAIRY], TARGET)
    assert earned(with_dairy) == {"base": 23, "offer:11": 150}
    assert earned(sell(journal, [*LINES, DAIRY], TARGET)) == {"base": 23}  # used once


def test_a_category_bonus_on_an_excluded_category_is_never_applied(journal):
    apply_offers(journal.conn, payload(offer(12, category="tobacco", points=150)))
    assert earned(sell(journal, [*LINES, TOBACCO], TARGET)) == {"base": 20}


def test_a_cheque_above_a_threshold_needs_that_spend_on_lines_that_earn(tmp_path):
    session = TillSession(tmp_path / "till.db", "S001-T01")
    try:
        apply_offers(
            session.journal.conn,
            payload(offer(13, "cheque", cheque_cents=500, min_basket_cents=3000, name="Big basket")),
        )
        session.scan("3017620422003@20.00")
        session.identify(TARGET)
        assert [o.campaign for o in session.offers] == [13]  # shown with its condition, applied only if met
        session.pay("cash")
        closed = session.close()
        assert "offer:13" not in {e.rule for e in closed.ticket.points} and closed.cheques == ()
        session.scan("3017620422003@20.00")
        session.scan("3017620422003@15.00")
        session.identify(TARGET)
        assert [o.campaign for o in session.offers] == [13]
        session.pay("cash")
        closed = session.close()
        assert "offer:13" in {e.rule for e in closed.ticket.points} and len(closed.cheques) == 1
    finally:
        session.close_session()
    with Journal(tmp_path / "other.db", "S001-T02") as journal:
        apply_offers(journal.conn, payload(offer(13, "cheque", cheque_cents=500, min_basket_cents=3000)))
        under = sell(journal, [*LINES, TOBACCO], TARGET)  # 35.00 EUR, of which 20.00 earn points
        assert "offer:13" not in earned(under)
        over = sell(journal, [*LINES, make_line("3017620422034", 1, 1000, category="grocery")], TARGET)
        assert earned(over) == {"base": 30, "offer:13": 0}


def test_a_journal_made_before_conditions_keeps_its_offers(tmp_path):
    """A till upgraded with its offers table of schema 1 still reads them, then takes conditional ones."""
    path = tmp_path / "till.db"
    with Journal(path, "S001-T01") as journal:
        journal.conn.executescript(
            "CREATE TABLE offers (campaign INTEGER PRIMARY KEY, name TEXT NOT NULL, kind TEXT NOT NULL, "
            "points INTEGER NOT NULL, cheque_cents INTEGER NOT NULL, starts TEXT NOT NULL, ends TEXT NOT NULL, "
            "stores TEXT NOT NULL); CREATE TABLE offer_cards (card TEXT NOT NULL, campaign INTEGER NOT NULL, "
            "PRIMARY KEY (card, campaign)) WITHOUT ROWID;"
        )
        with journal.conn:
            journal.conn.execute(
                "INSERT INTO offers VALUES (5, 'old', 'bonus_points', 100, 0, ?, ?, '')",
                ((TODAY - timedelta(days=1)).isoformat(), (TODAY + timedelta(days=1)).isoformat()),
            )
            journal.conn.execute("INSERT INTO offer_cards VALUES (?, 5)", (TARGET,))
    with Journal(path, "S001-T01") as journal:
        found = offers_for_card(journal.conn, TARGET, TODAY, "S001")
        assert [(o.campaign, o.category, o.min_basket_cents) for o in found] == [(5, None, 0)]
        assert apply_offers(journal.conn, payload(offer(6, category="dairy", min_basket_cents=200))) == 1
        found = offers_for_card(journal.conn, TARGET, TODAY, "S001")
        assert [(o.campaign, o.category, o.min_basket_cents) for o in found] == [(6, "dairy", 200)]


def test_a_cheque_offer_is_issued_once_and_printed_by_its_name(tmp_path):
    session = TillSession(tmp_path / "till.db", "S001-T01")
    try:
        apply_offers(
            session.journal.conn,
            payload(
                offer(9, "cheque", cheque_cents=500, name="Spring cheque"), offer(10, points=150, name="Welcome back")
            ),
        )
        session.scan("3017620422003@10.00")
        session.identify(TARGET)
        assert [o.campaign for o in session.offers] == [9, 10]
        session.pay("cash")
        with use_language("en"):
            closed = session.close()
        assert (
            "  base points                           10\n"
            "  offer Welcome back                   150\n"
            "  offer Spring cheque         cheque €5.00\n"
        ) in closed.receipt
        offer_entries = [(e.kind, e.rule, e.points, e.line) for e in closed.ticket.points if e.rule.startswith("offer")]
        assert offer_entries == [("earn", "offer:10", 150, None), ("earn", "offer:9", 0, None)]
        assert len(closed.cheques) == 1 and "value                                €5.00" in closed.cheques[0]
        assert "offer                        Spring cheque" in closed.cheques[0]
        session.scan("3017620422003@10.00")
        session.identify(TARGET)
        assert session.offers == []  # both used by this card
        session.pay("cash")
        assert session.close().cheques == ()
    finally:
        session.close_session()


@pytest.mark.timeout(60)
def test_retained_offers_reach_the_card_panel(tmp_path, mosquitto):
    publisher = RawPublisher(mosquitto.port)
    publisher.client.publish(
        topics.OFFERS, payload(offer(3, name="January bonus", points=300)), qos=1, retain=True
    ).wait_for_publish(10)
    publisher.close()
    db = str(tmp_path / "till.db")
    Journal(db, "S001-T01").close()
    listener = DownlinkListener(db, "S001-T01", parse_broker_url(mosquitto.url)).start()
    try:
        assert listener.offers_updated.wait(10), "the retained offers did not arrive"
        assert listener.offers == 1
    finally:
        listener.stop()
    assert sqlite3.connect(db).execute("SELECT card, campaign FROM offer_cards").fetchall() == [(TARGET, 3)]

    async def screen():
        app = TillApp(db, "S001-T01")
        async with app.run_test(size=(130, 40)) as pilot:
            app.screen.query_one("#entry").value = "3017620422003@20.00"
            await pilot.press("enter")
            await pilot.press("f2")
            app.screen.query_one("#entry").value = TARGET
            await pilot.press("enter")
            await app.workers.wait_for_complete()
            await pilot.pause()
            panel = str(app.screen.query_one("#card").render())
            assert panel.splitlines()[-1] == "offer January bonus: +300 points on this ticket"
            await pilot.press("f10")
            app.screen.query_one("#entry").value = "cash 20"
            await pilot.press("enter")
            await pilot.pause()
            receipt = str(app.screen.query_one("#receipt").render())
            assert "  offer January bonus                  300\n" in receipt

    asyncio.run(screen())
