"""The outbox's backlog comes from the ends of its sequence range, and follows acks."""

import sqlite3

from sync import outbox


def test_backlog_counts_what_waits_for_an_ack(tmp_path):
    conn = sqlite3.connect(tmp_path / "till.db")
    outbox.ensure_schema(conn)
    assert outbox.backlog(conn) == 0
    with conn:
        for seq in range(1, 8):
            outbox.enqueue(conn, seq, "loyalty/v1/up/S001-T01/tickets", b"{}", "2026-01-01T00:00:00+00:00")
    assert outbox.backlog(conn) == 7
    assert outbox.acknowledge(conn, 3, "2026-01-01T00:00:01+00:00") == 3
    assert outbox.backlog(conn) == 4
    assert outbox.acknowledge(conn, 7, "2026-01-01T00:00:02+00:00") == 4
    assert outbox.backlog(conn) == 0 and outbox.acked_to(conn) == 7
