"""Customer value, deciles, Pareto, ranks, RFM, LTV, identification and points on a data set known by hand,
on SQLite and on PostgreSQL (the same figures)."""

from __future__ import annotations

import threading
from datetime import date, datetime, timezone

import pytest

from programme.ticket import PointsEntry, Tender, Ticket, make_line
from server.analytics import aggregate, points, rfm, value
from server.storage.connection import open_connection

from ...fixtures.headoffice import CARDS, END, START, build_known_set, store_tickets  # noqa: F401


@pytest.fixture
def conn(office_target):
    build_known_set(office_target)
    db = open_connection(office_target)
    aggregate.refresh(db)
    yield db
    db.close()


def test_customer_values_per_card(conn):
    values = {v.key: v for v in value.customer_values(conn, START, END)}
    a, b, c = values[CARDS["A"]], values[CARDS["B"]], values[CARDS["C"]]
    assert len(values) == 10  # D's 2025 ticket is outside the period; the anonymous ticket is no customer
    assert (a.spend_cents, a.tickets, a.visits, a.last_day, a.recency_days) == (70000, 2, 2, "2026-01-30", 1)
    assert a.margin_cents == 21000  # "fresh" is 30% margin: 15000 + 6000
    assert (a.points_earned, a.points_cost_cents, a.net_cents) == (700, 700, 20300)
    assert (b.spend_cents, b.points_redeemed, b.recency_days) == (10000, 50, 6)
    assert (c.margin_cents, c.points_earned, c.net_cents) == (750, 1025, -275)
    assert values[CARDS["D"]].spend_cents == 2500


def test_registered_cards_count_as_one_customer(conn):
    conn.execute(
        "INSERT INTO customers (id, name, created_at, updated_at) VALUES (7, 'Eve', '2026-01-01', '2026-01-01')"
    )
    conn.executemany(
        "INSERT INTO cards (number, customer_id, status, issued_at, status_at) "
        "VALUES (?, 7, 'active', '2026-01-01', '2026-01-01')",
        [(CARDS["E"],), (CARDS["F"],)],
    )
    values = {v.key: v for v in value.customer_values(conn, START, END)}
    merged = values["customer:7"]
    assert (merged.cards, merged.spend_cents, merged.visits, merged.customer_id) == (
        sorted([CARDS["E"], CARDS["F"]]),
        5000,
        2,
        7,
    )
    assert len(values) == 9


def test_pareto_deciles_and_ranks(conn):
    values = value.customer_values(conn, START, END)
    assert value.top_share(values, 0.2) == 0.8  # the best 2 of 10 make 80,000 of 100,000
    curve = value.pareto(values, points=10)
    assert curve[0] == (0.0, 0.0) and curve[1] == (0.1, 0.7) and curve[2] == (0.2, 0.8) and curve[10] == (1.0, 1.0)
    groups = value.deciles(values)
    assert [g["customers"] for g in groups] == [1] * 10
    assert [g["spend_cents"] for g in groups] == [70000, 10000] + [2500] * 8
    assert groups[0]["share"] == 0.7
    ranks = value.value_ranks(values)
    assert ranks[CARDS["A"]] == "top decile" and ranks[CARDS["B"]] == "decile 2"
    assert ranks[CARDS["C"]] == "below zero"  # 1,025 points cost 10.25 EUR, its margin is 7.50 EUR
    assert ranks[CARDS["D"]] == "decile 4" and ranks[CARDS["J"]] == "decile 10"


def test_rfm_quintiles(conn):
    scores = rfm.rfm_scores(value.customer_values(conn, START, END))
    assert scores[CARDS["A"]].code == "555"
    assert scores[CARDS["B"]].code == "515"
    assert scores[CARDS["C"]].code == "111"  # last seen 29 days before the end: the oldest
    assert scores[CARDS["D"]].code == "111"
    assert scores[CARDS["E"]].code == "211"
    assert scores[CARDS["J"]].code == "411"


def test_lifetime_value_uses_the_documented_formula(conn):
    values = value.customer_values(conn, START, END)
    previous = value.customer_values(conn, *rfm.previous_period(START, END))
    assert rfm.previous_period(START, END) == (date(2025, 12, 1), date(2025, 12, 31))
    r = rfm.retention(values, previous)
    assert r == rfm.DEFAULT_RETENTION  # nobody bought in December 2025
    a = next(v for v in values if v.key == CARDS["A"])
    # m = 20,300 cents in 31 days -> 239,016.13 a year; m * 0.8 / (1 + 0.1 - 0.8)
    assert rfm.lifetime_value_cents(a, START, END, r) == 637376
    assert rfm.retention(values[:2], values[:4]) == 0.5


def test_identification_rate_by_store(conn):
    rows = value.identification_by_store(conn, START, END)
    assert [(r["store"], r["spend_cents"], r["identified_cents"], r["tickets"]) for r in rows] == [
        ("S001", 105000, 80000, 4),
        ("S002", 20000, 20000, 8),
    ]
    assert rows[0]["rate"] == 80000 / 105000 and rows[1]["rate"] == 1.0


def test_points_issued_redeemed_and_liability(conn):
    summary = points.points_summary(conn, START, END, as_of=END)
    assert summary == {
        "issued": 2000,
        "redeemed": 50,
        "expired": 0,
        "outstanding": 2050,
        "point_cents": 1,
        "liability_cents": 2050,
        "cheques_outstanding_cents": 0,
        "next_expiry": "2026-02-28",
        "expiring_points": 100,
        "expiring_cents": 100,
    }


def test_aggregate_is_incremental_and_idempotent(office_target):
    path = office_target
    build_known_set(path)
    conn = open_connection(path)
    assert aggregate.pending(conn) == 13
    assert aggregate.refresh(conn)["tickets"] == 13
    before = [tuple(r) for r in conn.execute("SELECT * FROM card_day ORDER BY card, day")]
    assert len(before) == 12  # A on two days, B..J, and D in 2025
    assert aggregate.refresh(conn)["tickets"] == 0
    assert [tuple(r) for r in conn.execute("SELECT * FROM card_day ORDER BY card, day")] == before
    closed = datetime(2026, 1, 30, 18, 0, tzinfo=timezone.utc)
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
                lines=[make_line("3017620422003", 2, 500, category="grocery")],
                tenders=[Tender(kind="cash", cents=1000)],
                total_cents=1000,
                card=CARDS["A"],
                points=[PointsEntry(kind="earn", rule="base", points=10)],
                rules_version="base-1",
            )
        ],
    )
    assert aggregate.refresh(conn)["tickets"] == 1
    row = conn.execute(
        "SELECT spend_cents, margin_cents, tickets, points FROM card_day WHERE card = ? AND day = ?",
        (CARDS["A"], "2026-01-30"),
    ).fetchone()
    assert tuple(row) == (51000, 15250, 2, 510)
    assert tuple(
        conn.execute(
            "SELECT spend_cents FROM card_category WHERE card = ? AND category = 'grocery'", (CARDS["A"],)
        ).fetchone()
    ) == (1000,)
    conn.close()


def test_folds_while_tickets_arrive_count_each_ticket_once(office_target):
    """Ingest in a thread while folds run in a loop: at the end the aggregates hold every ticket once
    (on PostgreSQL, tickets committed in any order reach the fold through the trigger's queue)."""
    build_known_set(office_target)
    conn = open_connection(office_target)
    closed = datetime(2026, 1, 28, 9, 0, tzinfo=timezone.utc)
    arriving = [
        Ticket(
            id=f"S005-T01-{seq:08d}",
            terminal="S005-T01",
            seq=seq,
            store="S005",
            cashier="c1",
            opened_at=closed,
            closed_at=closed,
            lines=[make_line("3017620422003", 1, 100 + seq)],
            tenders=[Tender(kind="cash", cents=100 + seq)],
            total_cents=100 + seq,
            card=CARDS["B"] if seq % 2 else None,
            points=[],
            rules_version="base-1",
        )
        for seq in range(1, 121)
    ]

    def ingest() -> None:
        for first in range(0, len(arriving), 10):
            store_tickets(office_target, arriving[first : first + 10])

    writer = threading.Thread(target=ingest)
    writer.start()
    folds = 0
    while writer.is_alive():
        aggregate.refresh(conn)
        folds += 1
    writer.join()
    aggregate.refresh(conn)
    assert aggregate.pending(conn) == 0 and folds >= 1
    tickets, cents = conn.execute("SELECT count(*), sum(total_cents) FROM tickets").fetchone()
    assert (tickets, cents) == (133, 135000 + sum(t.total_cents for t in arriving))  # 13 known: 1,350 EUR
    assert tuple(conn.execute("SELECT sum(tickets), sum(spend_cents) FROM store_day").fetchone()) == (tickets, cents)
    on_b = sum(t.total_cents for t in arriving if t.card)
    assert (
        conn.execute(
            "SELECT sum(spend_cents) FROM card_day WHERE card = ? AND store = 'S005'", (CARDS["B"],)
        ).fetchone()[0]
        == on_b
    )
    conn.close()
