"""The server's disk failing under ingest, and a till whose clock is hours off."""

from datetime import timedelta

import pytest

from server.ingest import receive as ingest
from terminal import journal as journal_module

from ..fixtures.chain import Till, start_ingestor


@pytest.mark.timeout(60)
def test_disk_full_at_the_server_rolls_back_retries_and_loses_nothing(tmp_path, mosquitto, monkeypatch):
    monkeypatch.setattr(ingest, "STORE_RETRY_DELAY", 0.05)
    monkeypatch.setattr(ingest, "STORE_RETRY_MAX_DELAY", 0.2)
    server = start_ingestor(tmp_path / "server.db", mosquitto.url)
    till = Till(tmp_path, "S001-T01")
    try:
        till.connect(mosquitto.url)
        till.sell(20)
        assert till.sender.wait_synced(30)
        conn = server.store.conn
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count = {pages}")  # a real SQLITE_FULL on the next write
        till.sell(200)
        assert not till.sender.wait_synced(1.5)
        assert server.store_failures > 0 and till.journal.backlog() == 200
        assert server.store.ticket_count() == 20  # each failed batch rolled back whole
        conn.execute("PRAGMA max_page_count = 1073741823")
        assert till.sender.wait_synced(30)
    finally:
        till.close()
        server.stop()
    assert server.store_failures > 0
    from server.ingest.store import Store

    assert Store(tmp_path / "server.db").stats()["tickets"] == 220


@pytest.mark.timeout(60)
def test_a_till_hours_off_still_syncs_exactly_once(tmp_path, mosquitto, monkeypatch):
    real_now = journal_module.utc_now
    monkeypatch.setattr(journal_module, "utc_now", lambda: real_now() + timedelta(hours=7))
    server = start_ingestor(tmp_path / "server.db", mosquitto.url)
    till = Till(tmp_path, "S001-T01")
    try:
        till.connect(mosquitto.url)
        till.sell(30)
        assert till.sender.wait_synced(30)
    finally:
        till.close()
        server.stop()
    from server.ingest.store import Store

    store = Store(tmp_path / "server.db")
    closed, received = store.conn.execute("SELECT min(closed_at), min(received_at) FROM tickets").fetchone()
    assert store.ticket_count() == 30 and closed > received  # kept as the till said, received time is the server's
