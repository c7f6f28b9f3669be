"""Customer value, deciles, ranks and RFM by DuckDB from the archive equal the aggregates path's, figure for
figure: on the data set known by hand (both engines), with desk customers, and on generated data."""

from __future__ import annotations

from datetime import date

import duckdb
import pytest

from server.analytics import aggregate, archive, rfm, value
from server.analytics.archive_value import FLOOR_THOUSANDTHS, figures
from server.analytics.generate import Plan, generate
from server.analytics.margins import margin_cents
from server.storage.connection import open_connection
from server.storage.desk_db import open_db

from ...fixtures.headoffice import (  # noqa: F401
    CARDS,
    END,
    START,
    build_known_set,
    known_set_with_customers,
)


def archived(conn, tmp_path):
    aggregate.refresh(conn)
    path = tmp_path / "office.archive"
    archive.export(conn, path)
    return path


def assert_equal_to_aggregates(conn, path, start, end, with_stores=False):
    """DuckDB's figures from the archive == the aggregates path's (value.py, rfm.py); returns them."""
    expected = value.customer_values(conn, start, end, with_stores=with_stores)
    got = figures(path, start, end, value.card_owners(conn), with_stores=with_stores)
    assert got.values == expected
    assert got.deciles == value.deciles(expected)
    assert got.ranks == value.value_ranks(expected)
    assert got.rfm == rfm.rfm_scores(expected)
    return got


@pytest.fixture
def known(office_target, tmp_path):
    build_known_set(office_target)
    conn = open_connection(office_target)
    yield conn, archived(conn, tmp_path)
    conn.close()


def test_the_known_figures_come_out_of_duckdb(known):
    conn, path = known
    got = assert_equal_to_aggregates(conn, path, START, END)
    values = {v.key: v for v in got.values}
    a, c = values[CARDS["A"]], values[CARDS["C"]]
    assert (a.spend_cents, a.tickets, a.visits, a.last_day, a.recency_days, a.margin_cents) == (
        70000,
        2,
        2,
        "2026-01-30",
        1,
        21000,
    )
    assert (c.margin_cents, c.points_earned, c.net_cents) == (750, 1025, -275)
    assert [g["spend_cents"] for g in got.deciles] == [70000, 10000] + [2500] * 8 and got.deciles[0]["share"] == 0.7
    assert (got.ranks[CARDS["A"]], got.ranks[CARDS["C"]], got.ranks[CARDS["D"]]) == (
        "top decile",
        "below zero",
        "decile 4",
    )
    assert [got.rfm[CARDS[n]].code for n in "ABCDEJ"] == ["555", "515", "111", "111", "211", "411"]


def test_an_empty_period_and_a_period_across_years(known):
    conn, path = known
    assert assert_equal_to_aggregates(conn, path, *rfm.previous_period(START, END)).values == []
    assert len(assert_equal_to_aggregates(conn, path, date(2025, 5, 31), END).values) == 10


def test_desk_customers_count_as_one_with_their_stores(office_target, tmp_path):
    conn = known_set_with_customers(office_target)
    conn.execute(
        "INSERT INTO cards (number, customer_id, status, issued_at, status_at) "
        "VALUES (?, 1, 'active', '2025-01-01T00:00:00+00:00', '2025-01-01T00:00:00+00:00')",
        (CARDS["J"],),
    )
    path = archived(conn, tmp_path)
    got = assert_equal_to_aggregates(conn, path, START, END, with_stores=True)
    first = got.values[0]
    assert (first.key, first.cards, first.spend_cents, first.stores) == (
        "customer:1",
        sorted([CARDS["A"], CARDS["J"]]),
        72500,
        {"S001": 70000, "S002": 2500},
    )
    conn.close()


def test_generated_data_gives_the_same_figures_over_any_period(tmp_path):
    conn = open_db(tmp_path / "generated.db")
    generate(conn, Plan(customers=400, tickets=4000, stores=4, seed=5, end=date(2026, 6, 30)))
    path = archived(conn, tmp_path)
    year = assert_equal_to_aggregates(conn, path, date(2025, 7, 1), date(2026, 6, 30), with_stores=True)
    assert (
        len(year.values) > 300
        and any(v.customer_id for v in year.values)
        and any(v.customer_id is None for v in year.values)
    )
    assert_equal_to_aggregates(conn, path, date(2025, 12, 10), date(2026, 1, 20))  # cuts two months
    assert_equal_to_aggregates(conn, path, date(2026, 6, 30), date(2026, 6, 30))  # one day
    conn.close()


def test_margins_round_down_as_python_does_refunds_included():
    scaled = [-1_000_001, -899_700, -1000, -999, -1, 0, 1, 999, 1000, 2_999_999]
    rows = (
        duckdb.connect()
        .execute(f"SELECT {FLOOR_THOUSANDTHS} FROM (SELECT unnest($s::BIGINT[]) AS scaled)", {"s": scaled})
        .fetchall()
    )
    assert [r[0] for r in rows] == [s // 1000 for s in scaled]
    assert margin_cents("fresh", -2999) == -2999 * 300 // 1000 == -900
