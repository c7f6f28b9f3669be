"""Next best offers over a real Mosquitto: chosen at head office, pushed retained, applied by a till to a
target card (never to a card held out), synced, accepted by ingest's check, and counted on the campaigns page."""

from __future__ import annotations

import html
import pytest

from programme.ticket import make_line, utc_now
from server.analytics import aggregate, campaigns, next_offer, offer_results
from server.analytics import offer_definitions
from server.analytics.offer_definitions import OfferType
from sync.broker_url import parse_broker_url
from sync.sender import OutboxSender
from terminal.downlink import DownlinkListener
from terminal.journal import Journal
from terminal.sale import sell

from ..fixtures.chain import start_ingestor
from ..fixtures.desk import Desk
from ..fixtures.headoffice import CARDS, build_known_set, register_customers

TERMINAL = "S001-T05"
LINES = [make_line("3017620422003", 2, 1000, category="fresh")]


@pytest.mark.timeout(90)
def test_chosen_offers_reach_the_till_and_come_back_counted(tmp_path, mosquitto, fast_argon2):
    office = Desk(tmp_path)
    build_known_set(office.db_path)
    register_customers(office.conn)  # customers 1 (card A) and 2 (card B) agreed to profiling, 3 did not
    conn = office.conn
    conn.row_factory = None
    aggregate.refresh(conn)
    today = utc_now().date()
    for t in (
        OfferType(name="we miss you", kind="winback", points=200, holdout_per_mille=100),
        OfferType(
            name="100 points on fresh", kind="category_points", category="fresh", points=100, holdout_per_mille=100
        ),
    ):
        offer_definitions.define(conn, t)
    done = next_offer.run(conn, today)
    assert done["customers"] == 2
    chosen = {
        r[0]: r[1:]
        for r in conn.execute("SELECT customer, grp, campaign_id, offer_type_id FROM nbo_choices ORDER BY customer")
    }
    # A (last seen in January, weekly before) is late: win-back, and its hash holds it out; B: fresh, a target
    assert {k: (grp, type_id) for k, (grp, _, type_id) in chosen.items()} == {
        "customer:1": ("holdout", 1),
        "customer:2": ("target", 2),
    }
    for customer, (grp, _, type_id) in chosen.items():
        assert grp == ("holdout" if offer_definitions.held_out(type_id, customer, 100) else "target")
    broker = parse_broker_url(mosquitto.url)
    assert campaigns.publish(conn, broker, today) == len({c[1] for c in chosen.values()})

    journal = Journal(tmp_path / "till.db", TERMINAL)
    listener = DownlinkListener(journal.path, TERMINAL, broker).start()
    ingestor = start_ingestor(office.db_path, mosquitto.url)
    sender = OutboxSender(journal.path, TERMINAL, broker).start()
    sold = {}
    try:
        assert listener.offers_updated.wait(10), "the retained offers did not reach the till"
        for customer, card in (("customer:1", CARDS["A"]), ("customer:2", CARDS["B"])):
            sold[customer] = sell(journal, LINES, card)
        sender.wake()
        assert sender.wait_synced(30)
    finally:
        sender.stop()
        ingestor.stop()
        listener.stop()
        journal.close()
    for customer, ticket in sold.items():
        grp, campaign_id, _ = chosen[customer]
        used = [e.points for e in ticket.points if e.rule == f"offer:{campaign_id}"]
        assert bool(used) == (grp == "target"), (customer, grp, used)
    assert (
        conn.execute("SELECT count(*) FROM discrepancies WHERE ticket_id LIKE ?", (f"{TERMINAL}-%",)).fetchone()[0] == 0
    )  # ingest accepted every claim
    page = html.unescape(office.client("head_office").get("/office/campaigns").get_data(as_text=True))
    for r in offer_results.results(conn, today):
        mine = [c for c in chosen.values() if c[2] == r["id"]]
        assert (r["targets"], r["holdouts"]) == (
            sum(c[0] == "target" for c in mine),
            sum(c[0] == "holdout" for c in mine),
        )
        if mine:
            row = page[page.index(f'id="offer-type-{r["id"]}"') :]
            row = row[: row.index("</tr>")]
            assert f"{today} (jour 1 sur 28)" in row  # French by default
            assert f'<td class="num">{r["targets"]}</td><td class="num">{r["holdouts"]}</td>' in row
    office.conn.close()
