"""Replaying a dead letter after a fix: decode it again and, when it now passes, ingest it as the till sent it.

Dead letters are never deleted (nothing a till sent is silently dropped); a replay is recorded
beside them in `dead_letter_replays`, and sync health stops counting a dead letter once replayed.
"""

from __future__ import annotations

from pathlib import Path

from sync.codec import decode_ticket
from sync.errors import SyncError
from sync.topics import terminal_of_up_topic

from server.storage.connection import Connection, open_connection
from ..errors import ServerError
from server.ingest.store_api import open_store


def replay(db_path: str | Path, dead_letter_id: int, now: str) -> dict:
    """Ingest dead letter `dead_letter_id` again; returns {"ticket", "outcome": "stored" | "duplicate"}.
    `db_path` is a SQLite file or a postgresql:// URL; the ticket goes through that database's own store."""
    conn = open_connection(db_path)
    try:
        row = conn.execute("SELECT topic, payload, reason FROM dead_letters WHERE id = ?", (dead_letter_id,)).fetchone()
        if row is None:
            raise ServerError(f"no dead letter {dead_letter_id}: pick one from the sync health page")
        if conn.execute("SELECT 1 FROM dead_letter_replays WHERE dead_letter_id = ?", (dead_letter_id,)).fetchone():
            raise ServerError(f"dead letter {dead_letter_id} was already replayed")
        topic, payload, _ = row
        if terminal_of_up_topic(topic, "status") or terminal_of_up_topic(topic, "requests"):
            return _dismiss(conn, dead_letter_id, topic, payload, now)
        try:
            ticket = decode_ticket(payload, terminal_of_up_topic(topic))
        except SyncError as exc:
            raise ServerError(
                f"dead letter {dead_letter_id} still fails ({exc}): fix the cause, then replay it"
            ) from None
        store = open_store(db_path)
        try:
            result = store.ingest([(topic, ticket, payload)], [], now)
        finally:
            store.close()
        outcome = "stored" if result.stored else "quarantined" if result.quarantined else "duplicate"
        with conn:
            conn.execute(
                "INSERT INTO dead_letter_replays VALUES (?, ?, ?, ?)", (dead_letter_id, now, ticket.id, outcome)
            )
        return {"dead_letter": dead_letter_id, "ticket": ticket.id, "outcome": outcome}
    finally:
        conn.close()


def _dismiss(conn: Connection, dead_letter_id: int, topic: str, payload: bytes, now: str) -> dict:
    """A till's status report or request is not replayed: a readable report is kept (unless a newer one
    is), anything else is closed, since the till reports again every 30 s and never waits for an old answer."""
    from sync.status import decode_status

    from server.ingest import till_status

    outcome = "dismissed"
    if terminal := terminal_of_up_topic(topic, "status"):
        try:
            outcome = (
                "status kept"
                if till_status.record_status(conn, decode_status(payload, terminal), now)
                else "dismissed (a newer status is kept)"
            )
        except SyncError:
            pass
    with conn:
        conn.execute("INSERT INTO dead_letter_replays VALUES (?, ?, ?, ?)", (dead_letter_id, now, "", outcome))
    return {"dead_letter": dead_letter_id, "ticket": None, "outcome": outcome}
