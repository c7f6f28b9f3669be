"""The last status each till reported (outbox backlog, sequences, rules version), kept for sync health.

One row per till, replaced by each newer report; the table sits beside the ticket store (SQLite or
PostgreSQL: the SQL here is the common subset, run through server.ingest.store_pg's `?` adapter there).
"""

from __future__ import annotations

from datetime import timezone

from sync.status import TillStatus


COLUMNS = (
    "terminal",
    "sent_at",
    "received_at",
    "backlog",
    "oldest_unacked_at",
    "last_seq",
    "last_acked_seq",
    "rules_version",
    "software",
)


def record_status(conn, status: TillStatus, received_at: str) -> bool:
    """Keep `status` unless a later report of that till is already kept; True when it was kept."""
    oldest = status.oldest_unacked_at.astimezone(timezone.utc).isoformat() if status.oldest_unacked_at else None
    with conn:
        cur = conn.execute(
            "INSERT INTO till_status (terminal, sent_at, received_at, backlog, oldest_unacked_at, last_seq, "
            "last_acked_seq, rules_version, software) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (terminal) DO UPDATE SET sent_at = excluded.sent_at, received_at = excluded.received_at, "
            "backlog = excluded.backlog, oldest_unacked_at = excluded.oldest_unacked_at, "
            "last_seq = excluded.last_seq, last_acked_seq = excluded.last_acked_seq, "
            "rules_version = excluded.rules_version, software = excluded.software "
            "WHERE excluded.sent_at >= till_status.sent_at",
            (
                status.terminal,
                status.sent_at.astimezone(timezone.utc).isoformat(),
                received_at,
                status.backlog,
                oldest,
                status.last_seq,
                status.last_acked_seq,
                status.rules_version,
                status.software,
            ),
        )
        return cur.rowcount > 0


def latest(conn) -> dict[str, dict]:
    """terminal -> its last report, as a dict of COLUMNS."""
    return {row[0]: dict(zip(COLUMNS, row)) for row in conn.execute(f"SELECT {', '.join(COLUMNS)} FROM till_status")}
