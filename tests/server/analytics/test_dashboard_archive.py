"""The value dashboard reads its figures from the archive through DuckDB when the database feeds one (SQLite and
PostgreSQL): the same figures as from the aggregates, the archive brought up to date first, the page unchanged."""

from __future__ import annotations

from datetime import datetime, timezone

import msgspec
import pytest

from programme.ticket import Tender, Ticket, make_line, ticket_id
from server.analytics import aggregate, archive, dashboard
from server.storage.connection import open_connection

from ...fixtures.desk import text
from ...fixtures.headoffice import CARDS, END, START, chained, known_set_with_customers, last_hash, store_tickets

PERIOD = "start=2026-01-01&end=2026-01-31"


def not_from_the_aggregates(*args):
    raise AssertionError("the dashboard was computed from the aggregates although the database feeds an archive")


def roundtrip(body: dict) -> dict:
    return msgspec.json.decode(msgspec.json.encode(body))


@pytest.fixture
def fed(office_target, tmp_path, monkeypatch):
    conn = known_set_with_customers(office_target)
    aggregate.refresh(conn)
    archive.export(conn, tmp_path / "office.archive")
    expected = roundtrip(dashboard.compute(conn, START, END))
    monkeypatch.setattr(dashboard, "compute", not_from_the_aggregates)
    yield conn, office_target, expected
    conn.close()


def test_the_figures_come_from_the_archive_and_equal_the_aggregates(fed, tmp_path):
    conn, _, expected = fed
    assert archive.archive_of(conn) == (tmp_path / "office.archive").resolve()
    assert dashboard.dashboard(conn, START, END) == expected
    found = dashboard.cached(conn, START, END)
    assert found.body == expected and found.version.split(":")[0] == str(archive.archived(conn))
    assert not dashboard.behind(conn, found).stale


def test_a_new_ticket_is_archived_then_counted(fed):
    conn, target, expected = fed
    closed = datetime(2026, 1, 31, 9, 0, tzinfo=timezone.utc)
    dashboard.dashboard(conn, START, END)
    store_tickets(
        target,
        chained(
            [
                Ticket(
                    id=ticket_id("S001-T01", 5),
                    terminal="S001-T01",
                    seq=5,
                    store="S001",
                    cashier="c1",
                    opened_at=closed,
                    closed_at=closed,
                    lines=[make_line("3017620422003", 1, 1000, category="grocery")],
                    tenders=[Tender(kind="cash", cents=1000)],
                    total_cents=1000,
                    card=CARDS["J"],
                    points=[],
                    rules_version="base-1",
                )
            ],
            last_hash(target, "S001-T01"),
        ),
    )
    assert dashboard.behind(conn, dashboard.cached(conn, START, END)).tickets == 1
    figures = dashboard.dashboard(conn, START, END)
    assert archive.pending(conn) == 0 and figures["spend_cents"] == expected["spend_cents"] + 1000
    assert not dashboard.behind(conn, dashboard.cached(conn, START, END)).stale


def test_the_value_page_reads_the_archive(office, tmp_path, monkeypatch, english):
    conn = open_connection(office.db_path)
    aggregate.refresh(conn)
    archive.export(conn, tmp_path / "office.archive")
    conn.close()
    monkeypatch.setattr(dashboard, "compute", not_from_the_aggregates)
    page = text(office.client("head_office").get(f"/office/value?{PERIOD}"))
    assert page.count("<svg") == 2
    assert 'id="customers">10<' in page and 'id="top20">80.0% of sales<' in page
    assert "below zero" in page and "top decile" in page
    assert '<td>S001</td><td class="num">4</td>' in page
