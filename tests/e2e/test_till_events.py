"""NF525 end to end over a real Mosquitto: a cancelled ticket, a line void and a reprint journaled at the till
reach head office (signed, checked with the till's registered key, acked), and show in the ticket explorer
in a real headless Chromium."""

from __future__ import annotations

import sqlite3
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

import pytest
from argon2 import PasswordHasher

from programme.signing import new_private_key, private_key_pem, public_key_text
from server.desk import accounts
from server.ingest import till_events
from server.storage.desk_db import open_db
from server.ingest.store import Store
from server.ingest.till_events import EventIngestor
from server.web import create_app
from sync.broker_url import parse_broker_url
from sync.sender import OutboxSender
from terminal.event_sender import EventSender
from terminal.till import TillSession

from ..fixtures.browser import by_id, serve, wait_text
from ..fixtures.chain import start_ingestor, wait_until

pytestmark = pytest.mark.timeout(120)
TILL = "S001-T01"
OIL, RAZORS = "3000000000014", "3000000000007"


def rows(db, sql, args=()):
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def register(tmp_path, server_db):
    key = new_private_key()
    key_file = tmp_path / "till.key"
    key_file.write_bytes(private_key_pem(key))
    key_file.chmod(0o600)
    store = Store(server_db)
    store.register_till(TILL, public_key_text(key), datetime.now(timezone.utc).isoformat())
    store.close()
    return str(key_file)


def test_events_journaled_while_the_broker_is_down_arrive_once_it_is_back(tmp_path, mosquitto):
    server_db = str(tmp_path / "server.db")
    key_file = register(tmp_path, server_db)
    broker = parse_broker_url(mosquitto.url)
    events = EventIngestor(server_db, broker).start()
    assert events.wait_connected(10)
    session = TillSession(str(tmp_path / "till.db"), TILL, cashier="alice", key=key_file)
    event_sender = EventSender(session.db, TILL, broker).start()
    try:
        session.scan(OIL)
        session.cancel()
        wait_until(lambda: len(rows(server_db, "SELECT 1 FROM till_events")) == 1, 20, "the first event")
        mosquitto.stop()
        for _ in range(3):
            session.scan(RAZORS)
            session.cancel()
        assert rows(session.db, "SELECT count(*) FROM event_outbox")[0][0] == 3
        mosquitto.start()
        wait_until(
            lambda: rows(session.db, "SELECT count(*) FROM event_outbox")[0][0] == 0,
            30,
            "the till's events acked once the broker is back",
        )
    finally:
        event_sender.stop()
        events.stop()
        session.close_session()
    assert rows(server_db, "SELECT seq, status FROM till_events ORDER BY seq") == [
        (1, "verified"),
        (2, "verified"),
        (3, "verified"),
        (4, "verified"),
    ]


def test_a_cancelled_ticket_a_void_and_a_reprint_reach_head_office_and_show_in_the_explorer(
    tmp_path, mosquitto, browser, monkeypatch
):
    server_db = str(tmp_path / "server.db")
    key_file = register(tmp_path, server_db)
    broker = parse_broker_url(mosquitto.url)
    ingestor = start_ingestor(server_db, mosquitto.url)
    events = EventIngestor(server_db, broker).start()
    assert events.wait_connected(10)
    session = TillSession(str(tmp_path / "till.db"), TILL, cashier="alice", key=key_file)
    sender, event_sender = OutboxSender(session.db, TILL, broker).start(), EventSender(session.db, TILL, broker).start()
    try:
        session.scan(OIL)
        session.scan(RAZORS)
        session.void()  # razors voided, then the sale closes
        session.pay("cash")
        sold = session.close().ticket
        session.reprint(sold.id)
        session.scan(RAZORS)
        session.cancel()
        assert sender.wait_synced(20)
        wait_until(lambda: len(rows(server_db, "SELECT 1 FROM till_events")) == 3, 20, "3 events at head office")
        wait_until(
            lambda: rows(session.db, "SELECT count(*) FROM event_outbox")[0][0] == 0, 20, "the till's events acked"
        )
    finally:
        event_sender.stop()
        sender.stop()
        events.stop()
        ingestor.stop()
        session.close_session()
    assert rows(server_db, "SELECT chain, seq, kind, status, copy, ticket_id FROM till_events ORDER BY seq") == [
        ("events", 1, "line_void", "verified", 0, None),
        ("events", 2, "reprint", "verified", 1, sold.id),
        ("events", 3, "ticket_cancel", "verified", 0, None),
    ]
    razors = rows(server_db, "SELECT total_cents FROM till_events WHERE seq = 1")[0][0]
    conn = open_db(server_db)
    assert till_events.chain_problems(conn, TILL) == []
    today = datetime.now(ZoneInfo("Europe/Paris")).date()  # store days are Paris days
    assert till_events.cancellations(conn, date.fromordinal(today.toordinal() - 1), today, 2) == {
        "tills": [
            {
                "terminal": TILL,
                "store": "S001",
                "count": 2,
                "cents": razors * 2,
                "by_kind": {"line_void": 1, "ticket_cancel": 1},
            }
        ],
        "cashiers": [
            {
                "terminal": TILL,
                "store": "S001",
                "cashier": "alice",
                "count": 2,
                "cents": razors * 2,
                "by_kind": {"line_void": 1, "ticket_cancel": 1},
            }
        ],
    }
    assert till_events.cancellations(conn, today, today, 3) == {"tills": [], "cashiers": []}

    monkeypatch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1))
    app = create_app({"DB": server_db}, instance_path=str(tmp_path / "instance"))
    password = accounts.create_user(conn, "hugo", "head_office")
    conn.close()
    with serve(app) as url:
        browser.get(url + "/office/tickets")
        by_id(browser, "name").send_keys("hugo")
        by_id(browser, "password").send_keys(password)
        by_id(browser, "login").click()
        wait_text(browser, "h1", "Tickets")
        from selenium.webdriver.support.ui import Select

        Select(by_id(browser, "f-events")).select_by_value("cancelled")
        by_id(browser, "filter").click()
        wait_text(browser, "#events", "ticket_cancel")
        cells = [td.text for td in browser.find_elements("css selector", "#events tbody td")]
        assert cells[0].startswith("ticket_cancel") and cells[2:5] == [TILL, "alice", "after 1"]
        browser.get(f"{url}/office/tickets/{sold.id}")
        wait_text(browser, "#events", "reprint (copy 1)")
        assert "line_void" in by_id(browser, "events").text
