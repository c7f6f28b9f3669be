"""The value page while tickets arrive: it serves the last figures with their age, and the app's background
refresher (its own thread and connection) recomputes them; the first view of a large period says it is computing.
On SQLite and on PostgreSQL."""

from __future__ import annotations

import sqlite3
import threading
from datetime import datetime, timezone

import pytest

from programme.ticket import Tender, Ticket, make_line
from server.analytics import aggregate, dashboard
from server.storage.connection import open_connection

from ...fixtures.desk import text
from ...fixtures.headoffice import CARDS, END, START, _ean, chained, last_hash
from ...fixtures.headoffice import store_tickets  # noqa: F401 - fixture

pytestmark = pytest.mark.usefixtures("english")  # written when the pages spoke only English

PERIOD = f"start={START}&end={END}"
CARD_K = _ean("290000000011")  # a card the known set does not have: one more customer once counted
WAIT_S = 60


def customers(page: str) -> int:
    return int(page.split('id="customers">')[1].split("<")[0])


def freshness(page: str) -> str:
    return page.split('id="freshness"')[1].split(">", 1)[1].split("</p>")[0]


def sell(db_path: str, seq: int, card: str = CARD_K) -> None:
    closed = datetime(2026, 1, 31, 12, seq, tzinfo=timezone.utc)
    store_tickets(
        db_path,
        chained(
            [
                Ticket(
                    id=f"S001-T01-{seq:08d}",
                    terminal="S001-T01",
                    seq=seq,
                    store="S001",
                    cashier="c1",
                    opened_at=closed,
                    closed_at=closed,
                    lines=[make_line("3017620422003", 1, 700)],
                    tenders=[Tender(kind="cash", cents=700)],
                    total_cents=700,
                    card=card,
                    points=[],
                    rules_version="base-1",
                )
            ],
            last_hash(db_path, "S001-T01"),
        ),
    )


def as_of(db_path: str) -> str:
    conn = open_connection(db_path)
    try:
        at = conn.execute(
            'SELECT computed_at FROM dashboard_cache WHERE start = ? AND "end" = ?',
            (START.isoformat(), END.isoformat()),
        ).fetchone()[0]
    finally:
        conn.close()
    return datetime.fromisoformat(at).strftime("%Y-%m-%d %H:%M:%S UTC")


def test_a_view_after_new_tickets_serves_the_old_figures_until_the_refresher_has_run(office):
    client = office.client("head_office")
    first = text(client.get(f"/office/value?{PERIOD}"))  # never computed and small: computed in the request
    assert customers(first) == 10
    assert freshness(first) == f"Figures as of {as_of(office.db_path)}, up to date."
    computed = as_of(office.db_path)
    sell(office.db_path, 5)
    sell(office.db_path, 6)
    stale = text(client.get(f"/office/value?{PERIOD}"))
    assert customers(stale) == 10  # K's tickets are neither folded nor counted in the request
    assert freshness(stale) == f"Figures as of {computed}; 2 tickets arrived since, being refreshed."
    refresher = office.app.extensions["dashboard_refresher"]
    assert refresher.wait_idle(WAIT_S)
    fresh = text(client.get(f"/office/value?{PERIOD}"))
    assert customers(fresh) == 11 and 'id="top20">' in fresh
    assert freshness(fresh) == f"Figures as of {as_of(office.db_path)}, up to date."
    assert aggregate.pending(office.conn) == 0 and refresher.started == 1


def test_two_concurrent_stale_views_start_one_refresh(office, monkeypatch):
    clients = [office.client("head_office"), office.client("admin")]
    assert customers(text(clients[0].get(f"/office/value?{PERIOD}"))) == 10
    gate, computing, calls = threading.Event(), threading.Event(), []
    real = dashboard.compute

    def held(conn, start, end):
        calls.append((start, end))
        computing.set()
        assert gate.wait(WAIT_S)
        return real(conn, start, end)

    monkeypatch.setattr(dashboard, "compute", held)
    sell(office.db_path, 5)
    pages: list[str] = []
    views = [threading.Thread(target=lambda c=c: pages.append(text(c.get(f"/office/value?{PERIOD}")))) for c in clients]
    for view in views:
        view.start()
    for view in views:
        view.join(WAIT_S)
    assert computing.wait(WAIT_S)  # the refresher is inside compute(), held
    assert [customers(p) for p in pages] == [10, 10]
    assert all("1 ticket arrived since, being refreshed." in freshness(p) for p in pages)
    again = text(clients[1].get(f"/office/value?{PERIOD}"))  # a third view while it runs
    refresher = office.app.extensions["dashboard_refresher"]
    assert customers(again) == 10 and refresher.started == 1 and refresher.busy_with(START, END)
    gate.set()
    assert refresher.wait_idle(WAIT_S)
    assert calls == [(START, END)] and refresher.started == 1
    assert customers(text(clients[0].get(f"/office/value?{PERIOD}"))) == 11


def test_a_card_or_ledger_change_alone_also_makes_the_figures_stale(office):
    client = office.client("head_office")
    client.get(f"/office/value?{PERIOD}")
    computed = as_of(office.db_path)
    with office.conn:
        office.conn.execute(
            "INSERT INTO cards (number, customer_id, status, issued_at, status_at) "
            "VALUES (?, 1, 'active', '2026-01-10T09:00:00+00:00', '2026-01-10T09:00:00+00:00')",
            (CARD_K,),
        )
    page = text(client.get(f"/office/value?{PERIOD}"))
    assert freshness(page) == f"Figures as of {computed}; ledger entries or cards changed since, being refreshed."
    assert office.app.extensions["dashboard_refresher"].wait_idle(WAIT_S)
    assert "2026-01" in text(client.get(f"/office/value?{PERIOD}")).split('id="enrolments"')[1].split("</table>")[0]


def test_the_first_view_of_a_large_period_says_it_is_computing_and_reloads(office, monkeypatch):
    monkeypatch.setattr(dashboard, "INLINE_ROWS", 0)  # as if the period held more card_day rows than a page computes
    client = office.client("head_office")
    response = client.get(f"/office/value?{PERIOD}")
    page = text(response)
    assert response.status_code == 202
    assert freshness(page) == (
        "The figures for 01/01/2026 to 31/01/2026 are being computed for the first time; "
        "this page reloads itself every 5 seconds until they are ready."
    )
    assert '<meta http-equiv="refresh" content="5">' in page and 'id="customers"' not in page
    assert office.app.extensions["dashboard_refresher"].wait_idle(WAIT_S)
    ready = client.get(f"/office/value?{PERIOD}")
    assert ready.status_code == 200 and customers(text(ready)) == 10


def test_segments_leave_a_large_fold_to_the_refresher(office, monkeypatch):
    client = office.client("head_office")
    assert "not counted yet" not in text(client.get(f"/office/segments?{PERIOD}"))  # 13 tickets: folded here
    monkeypatch.setattr(dashboard, "INLINE_TICKETS", 1)
    sell(office.db_path, 5)
    sell(office.db_path, 6, CARDS["A"])
    page = text(client.get(f"/office/segments?{PERIOD}"))
    assert freshness(page) == (
        "2 tickets stored since the aggregates were last brought up to date are not counted yet, being folded."
    )
    assert office.app.extensions["dashboard_refresher"].wait_idle(WAIT_S)
    assert aggregate.pending(office.conn) == 0
    assert "not counted yet" not in text(client.get(f"/office/segments?{PERIOD}"))


def test_figures_cached_before_computed_at_existed_get_the_column(tmp_path):
    from server.storage.connection import connect_sqlite

    path = tmp_path / "old.db"
    connect_sqlite(path).conn.close()
    conn = sqlite3.connect(path)  # as a release before computed_at left it (migration 13 adds the column)
    conn.executescript(
        "DROP TABLE dashboard_cache;"
        "CREATE TABLE dashboard_cache (start TEXT NOT NULL, end TEXT NOT NULL, version TEXT NOT NULL, "
        "body BLOB NOT NULL, PRIMARY KEY (start, end)) WITHOUT ROWID;"
        "INSERT INTO dashboard_cache VALUES ('2026-01-01', '2026-01-31', '0:0:0:0', "
        "'{\"customers\": 3}');"
        "DELETE FROM schema_migrations WHERE number >= 13;"
    )
    conn.close()
    conn = connect_sqlite(path).conn
    found = dashboard.cached(conn, START, END)
    assert (found.body, found.version, found.computed_at) == ({"customers": 3}, "0:0:0:0", None)
    assert [r[1] for r in conn.execute("PRAGMA table_info(dashboard_cache)")][-1] == "computed_at"
    conn.close()
    connect_sqlite(path).conn.close()  # a second time: nothing to add


def test_a_failed_refresh_keeps_the_old_figures_and_is_asked_again(office, monkeypatch, caplog):
    client = office.client("head_office")
    client.get(f"/office/value?{PERIOD}")
    computed = as_of(office.db_path)

    def broken(conn, start, end):
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(dashboard, "compute", broken)
    sell(office.db_path, 5)
    with caplog.at_level("ERROR", logger="loyalty.refresher"):
        client.get(f"/office/value?{PERIOD}")
        refresher = office.app.extensions["dashboard_refresher"]
        assert refresher.wait_idle(WAIT_S)
    assert '"event":"dashboard_refresh_failed","period":"2026-01-01..2026-01-31"' in caplog.text
    assert "disk I/O error" in caplog.text
    page = text(client.get(f"/office/value?{PERIOD}"))
    assert customers(page) == 10
    assert freshness(page) == f"Figures as of {computed}; 1 ticket arrived since, being refreshed."
    assert refresher.wait_idle(WAIT_S) and refresher.started == 2  # the next view asked again


def test_the_job_prepares_the_default_period_so_the_first_view_computes_nothing(office, monkeypatch):
    from click.testing import CliRunner

    from loyalty.cli import main

    result = CliRunner().invoke(main, ["server", "aggregate", "--db", office.db_path, "--dashboard"])
    assert result.exit_code == 0, result.output
    monkeypatch.setattr(dashboard, "compute", lambda *a: pytest.fail("the job had prepared these figures"))
    page = text(office.client("head_office").get("/office/value"))
    assert "Customer value <small>31/01/2025 to 30/01/2026</small>" in page and customers(page) == 10
    assert freshness(page).startswith("Figures as of 20") and freshness(page).endswith(" UTC, up to date.")
    assert "dashboard_refresher" not in office.app.extensions  # up-to-date figures: nothing asked of it
