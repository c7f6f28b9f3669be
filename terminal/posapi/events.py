"""The POS conversation's own journal (table `pos_events` of the till's journal): baskets opened, cards
identified, baskets cancelled by the POS or abandoned, tickets committed with the POS's ticket number, returns
and reprints. `pos_tickets` ties each POS ticket number to our ticket, so a number is committed once."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timezone

SCHEMA = """
CREATE TABLE IF NOT EXISTS pos_events (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    pos TEXT NOT NULL,
    basket TEXT,
    event TEXT NOT NULL,
    ticket_id TEXT,
    detail TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS pos_tickets (
    pos TEXT NOT NULL,
    pos_ticket TEXT NOT NULL,
    ticket_id TEXT NOT NULL,
    at TEXT NOT NULL,
    PRIMARY KEY (pos, pos_ticket)
);
"""


def ensure_schema(conn: sqlite3.Connection) -> None:
    conn.executescript(SCHEMA)


def record(
    conn: sqlite3.Connection,
    pos: str,
    event: str,
    basket: str | None = None,
    ticket_id: str | None = None,
    detail: str = "",
) -> None:
    with conn:
        conn.execute(
            "INSERT INTO pos_events (at, pos, basket, event, ticket_id, detail) VALUES (?, ?, ?, ?, ?, ?)",
            (datetime.now(timezone.utc).isoformat(), pos, basket, event, ticket_id, detail),
        )


def committed_as(conn: sqlite3.Connection, pos: str, pos_ticket: str) -> str | None:
    row = conn.execute(
        "SELECT ticket_id FROM pos_tickets WHERE pos = ? AND pos_ticket = ?", (pos, pos_ticket)
    ).fetchone()
    return row[0] if row else None


def link(conn: sqlite3.Connection, pos: str, pos_ticket: str, ticket_id: str, basket: str) -> None:
    """Tie the POS's ticket number to ours. Called inside the ticket's own transaction (Journal.close_ticket's
    `also`): a till stopped right after the close still knows the number was committed."""
    now = datetime.now(timezone.utc).isoformat()
    conn.execute(
        "INSERT INTO pos_tickets (pos, pos_ticket, ticket_id, at) VALUES (?, ?, ?, ?)",
        (pos, pos_ticket, ticket_id, now),
    )
    conn.execute(
        "INSERT INTO pos_events (at, pos, basket, event, ticket_id, detail) VALUES (?, ?, ?, ?, ?, ?)",
        (now, pos, basket, "committed", ticket_id, pos_ticket),
    )
