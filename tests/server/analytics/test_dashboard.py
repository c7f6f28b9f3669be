"""The value dashboard's figures: computed once, served from the cache until tickets, ledger or cards change
(on SQLite and PostgreSQL, the same figures)."""

from __future__ import annotations

import json
from datetime import date, datetime, timezone

import pytest
from click.testing import CliRunner

from loyalty.cli import main
from programme.ticket import Tender, Ticket, make_line
from server.analytics import dashboard

from ...fixtures.headoffice import CARDS, END, START, chained, known_set_with_customers, last_hash, store_tickets


@pytest.fixture
def conn(office_target):
    path = office_target
    db = known_set_with_customers(path)
    yield db, path
    db.close()


def test_figures(conn):
    db, _ = conn
    d = dashboard.dashboard(db, START, END)
    assert (d["customers"], d["spend_cents"], d["top20"]) == (10, 100000, 0.8)
    assert d["rank_counts"][0] == ["top decile", 1] and d["rank_counts"][-1] == ["below zero", 1]
    assert d["top"][0]["key"] == "customer:1" and d["top"][0]["rfm"] == "555"
    assert d["points"]["liability_cents"] == 2050 and d["stores"][0]["store"] == "S001"
    assert d["enrolments"] == []  # the three cards were issued in January 2025
    assert [tuple(m) for m in dashboard.enrolments_by_month(db, START.replace(year=2025), END)] == [("2025-01", 3)]


def test_cached_until_the_data_changes(conn, monkeypatch):
    db, path = conn
    first = dashboard.dashboard(db, START, END)
    calls = []
    monkeypatch.setattr(dashboard, "compute", lambda *a: calls.append(a) or {"recomputed": True})
    assert first["curve"][2] == [0.1, 0.7]
    assert dashboard.dashboard(db, START, END) == first and calls == []
    closed = datetime(2026, 1, 31, 12, 0, tzinfo=timezone.utc)
    store_tickets(
        path,
        chained(
            [
                Ticket(
                    id="S001-T01-00000005",
                    terminal="S001-T01",
                    seq=5,
                    store="S001",
                    cashier="c1",
                    opened_at=closed,
                    closed_at=closed,
                    lines=[make_line("3017620422003", 1, 700)],
                    tenders=[Tender(kind="cash", cents=700)],
                    total_cents=700,
                    card=CARDS["J"],
                    points=[],
                    rules_version="base-1",
                )
            ],
            last_hash(path, "S001-T01"),
        ),
    )
    assert dashboard.dashboard(db, START, END) == {"recomputed": True} and len(calls) == 1


def test_the_aggregate_job_can_prepare_the_dashboard(conn, monkeypatch):
    db, path = conn
    result = CliRunner().invoke(main, ["server", "aggregate", "--db", str(path), "--dashboard"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {
        "tickets": 13,
        "last_rowid": 13,  # on PostgreSQL: the tickets folded
        "dashboard": {"start": "2025-01-31", "end": "2026-01-30"},
    }
    assert dashboard.default_period(db) == (date(2025, 1, 31), date(2026, 1, 30))  # the last card sale: A's
    monkeypatch.setattr(dashboard, "compute", lambda *a: pytest.fail("the job had prepared these figures"))
    figures = dashboard.dashboard(db, date(2025, 1, 31), date(2026, 1, 30))
    assert (figures["customers"], figures["spend_cents"]) == (10, 110000)  # with D's June ticket
    again = CliRunner().invoke(main, ["server", "aggregate", "--db", str(path)])
    assert json.loads(again.output) == {"tickets": 0, "last_rowid": 13}


def test_the_aggregate_job_says_when_postgresql_cannot_be_reached():
    result = CliRunner().invoke(main, ["server", "aggregate", "--db", "postgresql://analyst@127.0.0.1:1/loyalty"])
    assert result.exit_code == 1
    assert result.output.startswith(
        "Error: cannot open the PostgreSQL database postgresql://analyst@127.0.0.1:1/loyalty: "
    )
    assert result.output.endswith("; check the URL and that the server runs\n")
