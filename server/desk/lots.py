"""Cards' points lots from the `ledger` table, and the rows that move points between cards keeping their lots.

A row's `lot_at` (NULL = `at`) is the time its credit counts from for expiry: the desk sets it on points
moved from another card, so a replaced or shared card's points expire when they would have on the old one.
The lot maths is programme.ledger's, the same for the expiry job, the desk's standing and a transfer.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from itertools import groupby

from programme.ledger import Entry, Ledger, lots_to_move
from server.storage.connection import Connection

COLUMNS = "card, kind, points, rule, cause, at, lot_at"
INSERT = (
    "INSERT INTO ledger (card, kind, points, rule, cause, ticket_id, at, lot_at) "
    "VALUES (?, 'transfer', ?, ?, ?, NULL, ?, ?)"
)


def when(text: str | datetime) -> datetime:
    """A stored time as an aware datetime: ISO text (SQLite, the desk's connections) or a datetime (a TIMESTAMPTZ
    read by a plain psycopg connection, as the uplink's answers read tickets on PostgreSQL)."""
    moment = text if isinstance(text, datetime) else datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def entry(row) -> Entry:
    """A `ledger` row (COLUMNS) as a programme.ledger Entry; an expiry names its lot in its cause."""
    card, kind, points, rule, cause, at, lot_at = row
    ref = cause.split(":", 2)[2] if kind == "expire" and cause.startswith("expire:") else None
    return Entry(
        card, kind, points, cause, when(at), rule or "", ref, lot_at=when(lot_at) if lot_at is not None else None
    )


def by_card(rows: Iterable) -> Iterator[tuple[str, list[Entry]]]:
    """Rows ordered by card then id, as (card, its entries in posting order)."""
    for card, group in groupby(rows, key=lambda r: r[0]):
        yield card, [entry(row) for row in group]


def ledger_of(conn: Connection, numbers: list[str]) -> Ledger:
    """The entries of these cards, in posting order."""
    marks = ", ".join("?" * len(numbers))
    return Ledger(
        [
            entry(row)
            for row in conn.execute(f"SELECT {COLUMNS} FROM ledger WHERE card IN ({marks}) ORDER BY card, id", numbers)
        ]
    )


def move(
    conn: Connection, source: str, target: str, points: int, cause: str, at: str, rule_out: str, rule_in: str
) -> int:
    """Write a move of `points` from `source` (its oldest lots first) to `target`, inside the caller's transaction.

    One entry out (`{cause}:out`) and one in per lot (`{cause}:in:{n}` with the lot's date as lot_at), all
    dated `at`. Returns the entries written in: none when the move's cause is already there (a replay).
    A negative `points` (an overdraft) moves as a debt: no lot, one entry in (`{cause}:in`).
    """
    if conn.execute("SELECT 1 FROM ledger WHERE cause = ?", (f"{cause}:out",)).fetchone():
        return 0
    if points < 0:
        conn.executemany(
            INSERT,
            [(source, -points, rule_out, f"{cause}:out", at, None), (target, points, rule_in, f"{cause}:in", at, None)],
        )
        return 1
    moved = lots_to_move(ledger_of(conn, [source]).lots(source), points)
    conn.executemany(
        INSERT,
        [
            (source, -points, rule_out, f"{cause}:out", at, None),
            *((target, n, rule_in, f"{cause}:in:{i}", at, lot_at.isoformat()) for i, (lot_at, n) in enumerate(moved)),
        ],
    )
    return len(moved)
