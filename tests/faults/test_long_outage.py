"""The broker down for minutes while a till keeps selling: everything arrives once it is back."""

import time

import pytest

from server.ingest.store import Store

from ..fixtures.chain import Till, start_ingestor

OUTAGE_SECONDS = 120


@pytest.mark.timeout(OUTAGE_SECONDS + 120)
def test_two_minutes_without_broker(tmp_path, mosquitto):
    server = start_ingestor(tmp_path / "server.db", mosquitto.url)
    till = Till(tmp_path, "S001-T01")
    try:
        till.connect(mosquitto.url)
        till.sell(50)
        assert till.sender.wait_synced(30)
        mosquitto.stop()
        down_since = time.monotonic()
        sold = 0
        while time.monotonic() - down_since < OUTAGE_SECONDS:
            till.sell(25)  # a busy till: about 25 tickets a second for the whole outage
            sold += 25
            time.sleep(1)  # the outage is a duration of its own, not a condition to wait for
        assert not till.sender.status.connected and till.journal.backlog() == sold
        mosquitto.start()
        assert till.sender.wait_synced(90), till.sender.status
    finally:
        till.close()
        server.stop()
    stats = Store(tmp_path / "server.db").stats()
    assert stats["tickets"] == 50 + sold and stats["terminals"]["S001-T01"]["contiguous_seq"] == 50 + sold
