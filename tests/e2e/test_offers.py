"""A campaign's life over a real Mosquitto: created at head office, pushed retained, applied by a till to a
target card (not to a control card), synced, checked by the server, and analysed; a forged offer is flagged."""

from __future__ import annotations

import html
from datetime import timedelta

import pytest

from programme.ticket import make_line, utc_now
from server.analytics import aggregate, campaigns
from server.analytics.campaigns import Campaign
from server.analytics.segments import SegmentSpec
from sync.broker_url import parse_broker_url
from terminal.downlink import DownlinkListener
from terminal.journal import Journal
from terminal.sale import sell
from sync.sender import OutboxSender

from ..fixtures.chain import start_ingestor
from ..fixtures.desk import Desk
from ..fixtures.headoffice import END, START, build_known_set, register_customers

TERMINAL = "S001-T05"  # the known set has tickets of S001-T01
LINES = [make_line("3017620422003", 2, 1000, category="grocery")]


def offer_points(ticket, campaign_id: int) -> list[int]:
    return [e.points for e in ticket.points if e.rule == f"offer:{campaign_id}"]


def discrepancies(conn) -> list[tuple]:
    """This till's (the known set's hand-made tickets name a rules version the server does not know)."""
    return conn.execute(
        "SELECT ticket_id, card, till_points, server_points, reason FROM discrepancies "
        "WHERE ticket_id LIKE ? ORDER BY id",
        (f"{TERMINAL}-%",),
    ).fetchall()


@pytest.mark.timeout(90)
def test_a_campaign_from_creation_to_analysis(tmp_path, mosquitto, fast_argon2):
    office = Desk(tmp_path)
    build_known_set(office.db_path)
    register_customers(office.conn)
    conn = office.conn
    conn.row_factory = None
    aggregate.refresh(conn)  # segments read the aggregates
    today = utc_now().date()
    campaign_id = campaigns.create(
        conn,
        Campaign(
            name="Autumn bonus",
            segment=SegmentSpec(start=START, end=END),
            kind="bonus_points",
            points=300,
            starts=today - timedelta(days=1),
            ends=today + timedelta(days=1),
            stores=["S001"],
            control_per_mille=300,
            seed=1,
        ),
    )
    groups = {
        grp: sorted(
            card
            for (card,) in conn.execute(
                "SELECT card FROM campaign_members WHERE campaign_id = ? AND grp = ?", (campaign_id, grp)
            )
        )
        for grp in ("target", "control")
    }
    assert (len(groups["target"]), len(groups["control"])) == (7, 3)
    target, control = groups["target"][0], groups["control"][0]
    broker = parse_broker_url(mosquitto.url)
    assert campaigns.publish(conn, broker, today) == 1

    journal = Journal(tmp_path / "till.db", TERMINAL)
    listener = DownlinkListener(journal.path, TERMINAL, broker).start()
    ingestor = start_ingestor(office.db_path, mosquitto.url)
    sender = OutboxSender(journal.path, TERMINAL, broker).start()
    try:
        assert listener.offers_updated.wait(10), "the retained offers did not reach the till"
        sold_target, sold_control = sell(journal, LINES, target), sell(journal, LINES, control)
        assert offer_points(sold_target, campaign_id) == [300] and offer_points(sold_control, campaign_id) == []
        sender.wake()
        assert sender.wait_synced(30)
        assert discrepancies(conn) == []
        aggregate.refresh(conn)
        result = campaigns.analyse(conn, campaign_id)
        assert (result["targets"], result["redeemed"], result["cost_points"]) == (7, 1, 300)
        assert result["redemption_rate"] == 1 / 7
        page = html.unescape(
            office.client("head_office").get(f"/office/campaigns/{campaign_id}").get_data(as_text=True)
        )
        assert 'id="redemption">1 (14,3 %)<' in page  # French by default and 'id="cost">300 points<' in page

        # A till whose offers list was tampered with gives the offer to a control card: flagged, with why.
        with journal.conn:
            journal.conn.execute("INSERT INTO offer_cards VALUES (?, ?)", (control, campaign_id))
        forged = sell(journal, LINES, control)
        assert offer_points(forged, campaign_id) == [300]
        sender.wake()
        assert sender.wait_synced(30)
    finally:
        sender.stop()
        ingestor.stop()
        listener.stop()
        journal.close()
    base = forged.points_earned - 300
    assert discrepancies(conn) == [
        (
            forged.id,
            control,
            base + 300,
            base,
            f"offer:{campaign_id} refused: card {control} is not a target of campaign {campaign_id}; till gave "
            f"{base + 300} points, rules 2026.1 give {base}: "
            f"till has basket offer:{campaign_id} 300; rules give nothing",
        )
    ]
    result = campaigns.analyse(conn, campaign_id)
    # The ledger credits only what head office accepts: the forged offer costs nothing and is no redemption.
    assert (result["redeemed"], result["cost_points"]) == (1, 300)
    office.conn.close()


@pytest.mark.timeout(90)
def test_offers_with_conditions_are_applied_only_when_met_and_accepted(tmp_path, mosquitto, fast_argon2):
    """A cheque above a basket of 30.00 EUR and bonus points on dairy travel to a till over a real Mosquitto
    (schema 2), are applied only to the tickets that meet them, pass ingest's check and are counted on the
    campaign's page."""
    office = Desk(tmp_path)
    build_known_set(office.db_path)
    register_customers(office.conn)
    conn = office.conn
    conn.row_factory = None
    aggregate.refresh(conn)
    today = utc_now().date()
    common = dict(
        segment=SegmentSpec(start=START, end=END),
        starts=today - timedelta(days=1),
        ends=today + timedelta(days=1),
        control_per_mille=300,
        seed=1,
    )
    cheque = campaigns.create(
        conn, Campaign(name="Big basket", kind="cheque", cheque_cents=500, min_basket_cents=3000, **common)
    )
    dairy = campaigns.create(conn, Campaign(name="Dairy", kind="bonus_points", points=150, category="dairy", **common))
    target = conn.execute(
        "SELECT min(card) FROM campaign_members WHERE campaign_id = ? AND grp = 'target'", (cheque,)
    ).fetchone()[0]
    broker = parse_broker_url(mosquitto.url)
    assert campaigns.publish(conn, broker, today) == 2

    journal = Journal(tmp_path / "till.db", TERMINAL)
    listener = DownlinkListener(journal.path, TERMINAL, broker).start()
    ingestor = start_ingestor(office.db_path, mosquitto.url)
    sender = OutboxSender(journal.path, TERMINAL, broker).start()
    fifteen = make_line("3017620422003", 1, 1500, category="grocery")
    milk = make_line("3017620422010", 1, 300, category="dairy")
    tobacco = make_line("3017620422027", 1, 2000, category="tobacco")
    try:
        assert listener.offers_updated.wait(10), "the retained offers did not reach the till"
        sold = [
            sell(journal, [fifteen, tobacco], target),  # 35.00 EUR, 15.00 that earn points: neither offer
            sell(journal, [fifteen, fifteen, milk], target),  # 33.00 EUR with dairy: both
            sell(journal, [fifteen, fifteen, milk], target),  # both used already
        ]
        assert [offer_points(t, cheque) + offer_points(t, dairy) for t in sold] == [[], [0, 150], []]
        sender.wake()
        assert sender.wait_synced(30)
    finally:
        sender.stop()
        ingestor.stop()
        listener.stop()
        journal.close()
    assert discrepancies(conn) == []  # ingest accepted both claims: their conditions are met
    aggregate.refresh(conn)
    for campaign_id, cost in ((cheque, 0), (dairy, 150)):
        result = campaigns.analyse(conn, campaign_id)
        assert (result["redeemed"], result["cost_points"]) == (1, cost)
        page = html.unescape(
            office.client("head_office").get(f"/office/campaigns/{campaign_id}").get_data(as_text=True)
        )
        assert 'id="redemption">1 (14,3 %)<' in page
    assert campaigns.analyse(conn, cheque)["cheques_cents"] == 500
    office.conn.close()
