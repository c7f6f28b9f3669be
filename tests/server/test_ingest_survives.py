"""Ingest never stops for one message, and never idles when it cannot go on (issue 15, finding 1)."""

from __future__ import annotations

import subprocess
import sys

import pytest

import server.ingest.store
from server.ingest.receive import Ingestor
from sync.broker_url import parse_broker_url
from sync.codec import encode_ticket
from sync.topics import acks as acks_topic, tickets as tickets_topic
from tests.fixtures.chain import wait_until
from tests.fixtures.mqtt import Listener, RawPublisher
from tests.server.test_hostile_ingest import ticket


def stored(ingestor: Ingestor) -> set[int]:
    return {seq for (seq,) in ingestor.store.conn.execute("SELECT seq FROM tickets")}


@pytest.mark.timeout(60)
def test_a_message_that_fails_in_the_store_is_dead_lettered_and_ingest_goes_on(mosquitto, tmp_path, monkeypatch):
    real = server.ingest.store.line_rows

    def poisoned(t):
        if t.seq == 2:
            raise RuntimeError("boom on ticket 2")
        return real(t)

    monkeypatch.setattr(server.ingest.store, "line_rows", poisoned)
    url = parse_broker_url(mosquitto.url)
    acks = Listener(mosquitto.port, acks_topic("S001-T01"))
    raw = RawPublisher(mosquitto.port)
    with Ingestor(str(tmp_path / "server.db"), url, require_registered=False) as ingestor:
        assert ingestor.wait_connected(10)
        wait_until(lambda: ingestor.store is not None, 10, "the store to open")
        for seq in (1, 2, 3):
            raw.publish(tickets_topic("S001-T01"), encode_ticket(ticket(seq)))
        wait_until(lambda: stored(ingestor) == {1, 3}, 20, "tickets 1 and 3 stored")
        raw.publish(tickets_topic("S001-T01"), encode_ticket(ticket(4)))
        wait_until(lambda: stored(ingestor) == {1, 3, 4}, 20, "ticket 4 stored after the failure")
        assert ingestor._thread.is_alive() and ingestor.error is None
        reasons = ingestor.store.conn.execute("SELECT terminal, seq, reason FROM dead_letters").fetchall()
        assert reasons == [("S001-T01", 2, "ingest failed on this message: RuntimeError: boom on ticket 2")]
        # the dead ticket's sequence counts: the till is acked past it and forgets nothing it must keep
        assert acks.wait_for(lambda ms: any(b'"acked_to":4' in p for _, p in ms))
    raw.close()
    acks.close()


@pytest.mark.timeout(60)
def test_the_server_exits_non_zero_when_ingest_cannot_go_on(mosquitto, tmp_path):
    db = tmp_path / "server.db"
    db.write_bytes(b"this is not a database" * 100)
    proc = subprocess.run(
        [sys.executable, "-m", "loyalty", "server", "--db", str(db), "--broker", mosquitto.url],
        capture_output=True,
        text=True,
        timeout=45,
    )
    assert proc.returncode == 1
    assert proc.stderr.strip().endswith(
        "Error: ingest stopped: DatabaseError: file is not a database; nothing was acked that is not stored: "
        "fix the cause and start the server again"
    )
