"""Daily aggregates kept beside the tickets, so value pages read thousands of rows, not millions.

`refresh(conn)` folds every ticket stored since the last run (by rowid, a watermark kept in
`aggregate_state`) into card_day, store_day and card_category, in one transaction: running it
twice, or at ingest and as a job, counts nothing twice.
"""
from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from .margins import margin_cents

SCHEMA = """
CREATE TABLE IF NOT EXISTS card_day (
    card TEXT NOT NULL,
    day TEXT NOT NULL,
    store TEXT NOT NULL,
    spend_cents INTEGER NOT NULL,
    margin_cents INTEGER NOT NULL,
    tickets INTEGER NOT NULL,
    points INTEGER NOT NULL,
    points_redeemed INTEGER NOT NULL,
    PRIMARY KEY (card, day, store)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS card_day_day ON card_day (day);
CREATE TABLE IF NOT EXISTS store_day (
    store TEXT NOT NULL,
    day TEXT NOT NULL,
    spend_cents INTEGER NOT NULL,
    tickets INTEGER NOT NULL,
    identified_cents INTEGER NOT NULL,
    identified_tickets INTEGER NOT NULL,
    PRIMARY KEY (store, day)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS card_category (
    card TEXT NOT NULL,
    category TEXT NOT NULL,
    spend_cents INTEGER NOT NULL,
    PRIMARY KEY (card, category)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS aggregate_state (
    name TEXT PRIMARY KEY,
    last_rowid INTEGER NOT NULL
);
"""
BATCH = 50_000  # tickets folded per step (one transaction for the whole run)


def ensure_schema(conn: sqlite3.Connection) -> None:
    # executescript would commit the caller's transaction (a snapshot): only run it when a table is missing
    if conn.execute("SELECT count(*) FROM sqlite_master WHERE name IN "
                    "('card_day', 'card_day_day', 'store_day', 'card_category', 'aggregate_state')").fetchone()[0] < 5:
        conn.executescript(SCHEMA)


def watermark(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT last_rowid FROM aggregate_state WHERE name = 'tickets'").fetchone()
    return row[0] if row else 0


def pending(conn: sqlite3.Connection, limit: int | None = None) -> int:
    """Tickets stored but not yet folded into the aggregates (counting no further than `limit` when given)."""
    ensure_schema(conn)
    if limit is not None:
        return conn.execute("SELECT count(*) FROM (SELECT 1 FROM tickets WHERE rowid > ? LIMIT ?)",
                            (watermark(conn), limit)).fetchone()[0]
    return conn.execute("SELECT count(*) FROM tickets WHERE rowid > ?", (watermark(conn),)).fetchone()[0]


@contextmanager
def snapshot(conn: sqlite3.Connection) -> Iterator[None]:
    """Several reads that see one state of the aggregates while another connection folds (the web app's
    refresher, the job): a read transaction, in WAL mode it blocks no one."""
    if conn.in_transaction:
        yield
        return
    conn.execute("BEGIN")
    try:
        yield
    finally:
        conn.execute("COMMIT")


def refresh(conn: sqlite3.Connection, progress: Callable[[int], None] | None = None) -> dict:
    """Fold new tickets into the aggregates; returns {"tickets": folded, "last_rowid": watermark}."""
    ensure_schema(conn)
    conn.execute("BEGIN IMMEDIATE")
    try:
        start = watermark(conn)
        folded = 0
        while True:
            end = conn.execute("SELECT max(rowid) FROM (SELECT rowid FROM tickets WHERE rowid > ? "
                               "ORDER BY rowid LIMIT ?)", (start, BATCH)).fetchone()[0]
            if end is None:
                break
            folded += _fold(conn, start, end)
            if progress:
                progress(folded)
            start = end
        conn.execute("INSERT INTO aggregate_state VALUES ('tickets', ?) ON CONFLICT(name) DO UPDATE SET "
                     "last_rowid = excluded.last_rowid", (start,))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return {"tickets": folded, "last_rowid": start}


def _fold(conn: sqlite3.Connection, start: int, end: int) -> int:
    tickets = conn.execute(
        "SELECT id, card, substr(closed_at, 1, 10), store, total_cents, points_earned, points_redeemed "
        "FROM tickets WHERE rowid > ? AND rowid <= ?", (start, end)).fetchall()
    margins: dict[str, int] = {}
    categories: dict[tuple[str, str], int] = {}
    for ticket_id, category, cents, card in conn.execute(
            "SELECT l.ticket_id, l.category, l.total_cents, t.card FROM tickets t JOIN lines l ON l.ticket_id = t.id "
            "WHERE t.rowid > ? AND t.rowid <= ? AND t.card IS NOT NULL", (start, end)):
        margins[ticket_id] = margins.get(ticket_id, 0) + margin_cents(category, cents)
        categories[(card, category)] = categories.get((card, category), 0) + cents
    card_day: dict[tuple, list[int]] = {}
    store_day: dict[tuple, list[int]] = {}
    for ticket_id, card, day, store, total, earned, redeemed in tickets:
        s = store_day.setdefault((store, day), [0, 0, 0, 0])
        s[0] += total
        s[1] += 1
        if card:
            s[2] += total
            s[3] += 1
            c = card_day.setdefault((card, day, store), [0, 0, 0, 0, 0])
            c[0] += total
            c[1] += margins.get(ticket_id, 0)
            c[2] += 1
            c[3] += earned
            c[4] += redeemed
    conn.executemany(
        "INSERT INTO card_day VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(card, day, store) DO UPDATE SET "
        "spend_cents = spend_cents + excluded.spend_cents, margin_cents = margin_cents + excluded.margin_cents, "
        "tickets = tickets + excluded.tickets, points = points + excluded.points, "
        "points_redeemed = points_redeemed + excluded.points_redeemed",
        [(*k, *v) for k, v in card_day.items()])
    conn.executemany(
        "INSERT INTO store_day VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(store, day) DO UPDATE SET "
        "spend_cents = spend_cents + excluded.spend_cents, tickets = tickets + excluded.tickets, "
        "identified_cents = identified_cents + excluded.identified_cents, "
        "identified_tickets = identified_tickets + excluded.identified_tickets",
        [(*k, *v) for k, v in store_day.items()])
    conn.executemany(
        "INSERT INTO card_category VALUES (?, ?, ?) ON CONFLICT(card, category) DO UPDATE SET "
        "spend_cents = spend_cents + excluded.spend_cents", [(*k, v) for k, v in categories.items()])
    return len(tickets)
