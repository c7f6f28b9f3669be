"""Campaigns: a control group held out, offers pushed retained to tills, and the uplift measured (SQLite and
PostgreSQL: the same draw, offers and analysis)."""

from __future__ import annotations

import statistics
from datetime import date, datetime, timezone

import msgspec
import pytest

from programme.ticket import PointsEntry, Tender, Ticket, make_line
from server.analytics import aggregate, campaigns
from server.analytics.campaigns import Campaign
from server.analytics.segments import SegmentSpec
from server.analytics.stats import t_quantile, welch_interval
from server.storage.desk_db import open_db
from server.errors import ServerError
from sync import topics
from sync.broker_url import parse_broker_url

from ...fixtures.headoffice import CARDS, END, START, build_known_set, register_customers, store_tickets
from ...fixtures.mqtt import Listener
from ...fixtures.signing import opened

EVERYONE = SegmentSpec(start=START, end=END)


@pytest.fixture
def conn(office_target):
    path = office_target
    build_known_set(path)
    closed = datetime(2026, 1, 31, 10, 0, tzinfo=timezone.utc)
    # A used the offer of campaign 1 on the last day: 300 bonus points on a 10 EUR basket
    store_tickets(
        path,
        [
            Ticket(
                id="S001-T01-000005",
                terminal="S001-T01",
                seq=5,
                store="S001",
                cashier="c1",
                opened_at=closed,
                closed_at=closed,
                lines=[make_line("3017620422003", 1, 1000, category="grocery")],
                tenders=[Tender(kind="cash", cents=1000)],
                total_cents=1000,
                card=CARDS["A"],
                points=[
                    PointsEntry(kind="earn", rule="base", points=10),
                    PointsEntry(kind="earn", rule="offer:1 triple points", points=300),
                ],
                rules_version="base-1",
            )
        ],
    )
    db = open_db(path)
    db.row_factory = None
    register_customers(db)
    aggregate.refresh(db)
    yield db
    db.close()


def campaign(**changes) -> Campaign:
    fields = dict(
        name="January bonus",
        segment=EVERYONE,
        kind="bonus_points",
        points=300,
        starts=START,
        ends=END,
        control_per_mille=300,
        seed=1,
    )
    return Campaign(**{**fields, **changes})


def groups(conn, campaign_id: int) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {"target": set(), "control": set()}
    for customer, grp in conn.execute(
        "SELECT customer, grp FROM campaign_members WHERE campaign_id = ?", (campaign_id,)
    ):
        found[grp].add(customer)
    return found


def test_control_group_is_held_out_reproducibly(conn):
    first = campaigns.create(conn, campaign())
    drawn = groups(conn, first)
    assert (len(drawn["target"]), len(drawn["control"])) == (7, 3)
    assert groups(conn, campaigns.create(conn, campaign())) == drawn  # same seed, same draw
    assert any(groups(conn, campaigns.create(conn, campaign(seed=s))) != drawn for s in range(2, 6))


def test_refusals_say_what_to_do(conn):
    cases = [
        (campaign(name=" "), "a campaign needs a name: give it one"),
        (campaign(kind="cash"), "offer kind 'cash' is not one of bonus_points, cheque"),
        (campaign(points=0), "a bonus points offer needs points above 0: give the points"),
        (campaign(kind="cheque"), "a cheque offer needs an amount above 0: give the cheque's value"),
        (
            campaign(ends=date(2025, 12, 1)),
            "the campaign ends (2025-12-01) before it starts (2026-01-01): swap the dates",
        ),
        (
            campaign(segment=SegmentSpec(start=START, end=END, category="drinks")),
            "the segment has no customers: widen it before creating a campaign",
        ),
    ]
    for bad, message in cases:
        with pytest.raises(ServerError) as refused:
            campaigns.create(conn, bad)
        assert str(refused.value) == message


def test_welch_interval_known_answer():
    # equal variances and sizes: df = 2(n-1) = 4, t(0.975, 4) = 2.776445 (tables)
    interval = welch_interval([1000, 1200, 1400], [800, 1000, 1200])
    assert interval.difference == 200 and interval.df == 4.0
    assert round(interval.t, 6) == 2.776445
    assert round(interval.standard_error, 6) == round((2 * 40000 / 3) ** 0.5, 6)
    assert round(interval.low, 4) == -253.3916 and round(interval.high, 4) == 653.3916
    assert round(t_quantile(0.975, 10), 6) == 2.228139 and round(t_quantile(0.975, 1e7), 4) == 1.96
    assert welch_interval([1], [1, 2]) is None


def test_analysis_of_a_known_split(conn):
    campaign_id = campaigns.create(conn, campaign())
    assert campaign_id == 1
    # Put the groups where the hand computation expects them: A-E target, F-J control.
    with conn:
        for name, card in CARDS.items():
            conn.execute(
                "UPDATE campaign_members SET grp = ? WHERE card = ?", ("target" if name <= "E" else "control", card)
            )
    result = campaigns.analyse(conn, campaign_id)
    target = [71000, 10000, 2500, 2500, 2500]  # A bought 700 EUR + the 10 EUR offer basket
    assert (result["targets"], result["controls"]) == (5, 5)
    assert (result["redeemed"], result["redemption_rate"], result["cost_points"]) == (1, 0.2, 300)
    assert (result["mean_target_cents"], result["mean_control_cents"], result["uplift_cents"]) == (17700, 2500, 15200)
    assert result["uplift_share"] == 15200 / 2500
    half_width = 2.7764451 * (statistics.variance(target) / 5) ** 0.5  # control variance 0: df = n - 1 = 4
    assert result["interval"]["df"] == 4.0
    assert round(result["interval"]["low"], 2) == round(15200 - half_width, 2)
    assert round(result["interval"]["high"], 2) == round(15200 + half_width, 2)


@pytest.mark.timeout(30)
def test_offers_are_pushed_retained_to_tills(conn, mosquitto):
    campaign_id = campaigns.create(conn, campaign(stores=["S001"]))
    ended = campaigns.create(conn, campaign(name="December", starts=date(2025, 12, 1), ends=date(2025, 12, 31)))
    assert campaigns.publish(conn, parse_broker_url(mosquitto.url), today=date(2026, 1, 15)) == 1
    till = Listener(mosquitto.port, topics.OFFERS)  # subscribes after the push: it gets the retained message
    try:
        assert till.wait_for(lambda messages: len(messages) == 1)
        message = msgspec.json.decode(opened("offers", till.messages[0][1]))
    finally:
        till.close()
    targets = sorted(
        r[0]
        for r in conn.execute(
            "SELECT card FROM campaign_members WHERE campaign_id = ? AND grp = 'target'", (campaign_id,)
        )
    )
    assert message["schema"] == 1 and len(message["offers"]) == 1
    offer = message["offers"][0]
    assert (offer["campaign"], offer["kind"], offer["points"], offer["stores"]) == (
        campaign_id,
        "bonus_points",
        300,
        ["S001"],
    )
    assert offer["cards"] == targets and len(targets) == 7
    pushed = dict(conn.execute("SELECT id, pushed_at FROM campaigns").fetchall())
    assert pushed[campaign_id] is not None and pushed[ended] is None


def test_a_stopped_campaign_leaves_the_offers_and_ends_that_day(conn):
    running = campaigns.create(conn, campaign(starts=date(2026, 1, 10), ends=date(2026, 1, 31)))
    future = campaigns.create(conn, campaign(name="February", starts=date(2026, 2, 1), ends=date(2026, 2, 28)))
    today = date(2026, 1, 15)

    def offered():
        return [o["campaign"] for o in msgspec.json.decode(campaigns.offers_payload(conn, today))["offers"]]

    assert offered() == [running, future]
    stopped = campaigns.stop(conn, running, today, now="2026-01-15T09:30:00+00:00")
    assert (stopped["ends"], stopped["stopped_at"]) == ("2026-01-15", "2026-01-15T09:30:00+00:00")
    cancelled = campaigns.stop(conn, future, today)
    assert cancelled["ends"] == "2026-02-01"  # it had not started: its first day is its last
    assert offered() == []
    with pytest.raises(ServerError) as again:
        campaigns.stop(conn, running, today)
    assert str(again.value) == f"campaign {running} was already stopped at 2026-01-15T09:30:00+00:00: nothing to do"
    over = campaigns.create(conn, campaign(name="December", starts=date(2025, 12, 1), ends=date(2025, 12, 31)))
    with pytest.raises(ServerError) as ended:
        campaigns.stop(conn, over, today)
    assert str(ended.value) == f"campaign {over} ended on 2025-12-31: there is nothing to stop"


def test_a_database_from_before_stops_gets_the_column_and_ingest_reads_it(conn, office_target):
    from server.ingest.offers_check import CampaignCache

    made = campaigns.create(conn, campaign())
    with conn:  # as a database made before stops
        conn.execute("ALTER TABLE campaigns DROP COLUMN stopped_at")
        conn.execute("DELETE FROM schema_migrations WHERE number >= 14")
    office = open_db(office_target)  # this version opens it: migration 14 adds the column
    try:
        cache = CampaignCache().refresh(office)  # ingest reads through a connection this version opened
        assert list(cache.by_id) == [made]
        assert campaigns.get(office, made)["stopped_at"] is None
        assert campaigns.stop(office, made, date(2026, 1, 15))["ends"] == "2026-01-15"
    finally:
        office.close()
    assert cache.refresh(conn).by_id[made].offer.ends == date(2026, 1, 15)
