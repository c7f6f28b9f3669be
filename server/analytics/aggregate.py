"""Daily aggregates kept beside the tickets, so value pages read thousands of rows, not millions.

`refresh(conn)` folds every ticket stored since the last run (by rowid, a watermark kept in
`aggregate_state`) into card_day, store_day and card_category, in one transaction: running it
twice, or at ingest and as a job, counts nothing twice.

On PostgreSQL tickets have no rowid and ids committed by concurrent writers do not arrive in order, so
a trigger notes each ticket stored in `aggregate_pending` (in the ticket's own transaction) and a fold
takes and deletes what it folds; the watermark there is the count of tickets folded so far.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from server.storage.connection import Connection, transaction
from server.storage.sql import insert_rows, rowid_order
from .margins import margin_cents

FOLD_LOCK_PG = 0x10CA1B  # advisory lock id (PostgreSQL): one fold at a time
BATCH = 50_000  # tickets folded per step (one transaction for the whole run)


def watermark(conn: Connection) -> int:
    row = conn.execute("SELECT last_rowid FROM aggregate_state WHERE name = 'tickets'").fetchone()
    return row[0] if row else 0


def stored(conn) -> int:
    """What the watermark will be once everything stored is folded (the last ticket's rowid on SQLite)."""
    if rowid_order(conn):
        return conn.execute("SELECT coalesce(max(rowid), 0) FROM tickets").fetchone()[0]
    return watermark(conn) + pending(conn)


def pending(conn: Connection, limit: int | None = None) -> int:
    """Tickets stored but not yet folded into the aggregates (counting no further than `limit` when given)."""
    if not rowid_order(conn):
        if limit is not None:
            return conn.execute(
                "SELECT count(*) FROM (SELECT 1 FROM aggregate_pending LIMIT ?) p", (limit,)
            ).fetchone()[0]
        return conn.execute("SELECT count(*) FROM aggregate_pending").fetchone()[0]
    if limit is not None:
        return conn.execute(
            "SELECT count(*) FROM (SELECT 1 FROM tickets WHERE rowid > ? LIMIT ?)", (watermark(conn), limit)
        ).fetchone()[0]
    return conn.execute("SELECT count(*) FROM tickets WHERE rowid > ?", (watermark(conn),)).fetchone()[0]


@contextmanager
def snapshot(conn: Connection) -> Iterator[None]:
    """Several reads that see one state of the aggregates while another connection folds (the web app's
    refresher, the job): a read transaction, in WAL mode it blocks no one."""
    with transaction(conn, immediate=False, snapshot=True, join=True):
        yield


def refresh(conn: Connection, progress: Callable[[int], None] | None = None) -> dict:
    """Fold new tickets into the aggregates; returns {"tickets": folded, "last_rowid": watermark}."""
    if not rowid_order(conn):
        return _refresh_pg(conn, progress)
    with transaction(conn):
        start = watermark(conn)
        folded = 0
        while True:
            end = conn.execute(
                "SELECT max(rowid) FROM (SELECT rowid FROM tickets WHERE rowid > ? ORDER BY rowid LIMIT ?)",
                (start, BATCH),
            ).fetchone()[0]
            if end is None:
                break
            folded += _fold(conn, start, end)
            if progress:
                progress(folded)
            start = end
        conn.execute(
            "INSERT INTO aggregate_state VALUES ('tickets', ?) ON CONFLICT(name) DO UPDATE SET "
            "last_rowid = excluded.last_rowid",
            (start,),
        )
    return {"tickets": folded, "last_rowid": start}


def _refresh_pg(conn, progress: Callable[[int], None] | None) -> dict:
    """The fold on PostgreSQL: take the noted tickets in batches, one fold at a time (an advisory lock)."""
    with transaction(conn, lock=FOLD_LOCK_PG):
        total = watermark(conn)
        folded = 0
        while True:
            tickets = conn.execute(
                "DELETE FROM aggregate_pending WHERE n IN (SELECT n FROM aggregate_pending ORDER BY n LIMIT ?) "
                "RETURNING id, card, day, store, total_cents, points_earned, points_redeemed",
                (BATCH,),
            ).fetchall()
            if not tickets:
                break
            identified = [t[0] for t in tickets if t[1] is not None]
            lines = (
                conn.execute(
                    "SELECT ticket_id, category, total_cents FROM lines WHERE ticket_id = ANY(?)", (identified,)
                ).fetchall()
                if identified
                else []
            )
            cards = {t[0]: t[1] for t in tickets}
            folded += _fold_rows(
                conn,
                [tuple(t) for t in tickets],
                [(tid, category, cents, cards[tid]) for tid, category, cents in lines],
            )
            if progress:
                progress(folded)
        total += folded
        conn.execute(
            "INSERT INTO aggregate_state VALUES ('tickets', ?) ON CONFLICT(name) DO UPDATE SET "
            "last_rowid = excluded.last_rowid",
            (total,),
        )
    return {"tickets": folded, "last_rowid": total}


def _fold(conn: Connection, start: int, end: int) -> int:
    tickets = conn.execute(
        "SELECT id, card, substr(closed_at, 1, 10), store, total_cents, points_earned, points_redeemed "
        "FROM tickets WHERE rowid > ? AND rowid <= ?",
        (start, end),
    ).fetchall()
    lines = conn.execute(
        "SELECT l.ticket_id, l.category, l.total_cents, t.card FROM tickets t JOIN lines l ON l.ticket_id = t.id "
        "WHERE t.rowid > ? AND t.rowid <= ? AND t.card IS NOT NULL",
        (start, end),
    )
    return _fold_rows(conn, tickets, lines)


def _fold_rows(conn, tickets, lines) -> int:
    """Add tickets (id, card, day, store, total, earned, redeemed) and their identified lines
    (ticket id, category, cents, card) to the aggregates."""
    margins: dict[str, int] = {}
    categories: dict[tuple[str, str], int] = {}
    for ticket_id, category, cents, card in lines:
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
    _add(conn, "card_day", [(*k, *v) for k, v in card_day.items()])
    _add(conn, "store_day", [(*k, *v) for k, v in store_day.items()])
    _add(conn, "card_category", [(*k, v) for k, v in categories.items()])
    return len(tickets)


SUMMED = {  # table: (its key, the columns a fold adds to)
    "card_day": (("card", "day", "store"), ("spend_cents", "margin_cents", "tickets", "points", "points_redeemed")),
    "store_day": (("store", "day"), ("spend_cents", "tickets", "identified_cents", "identified_tickets")),
    "card_category": (("card", "category"), ("spend_cents",)),
}


def _add(conn, table: str, rows: list[tuple]) -> None:
    """Add rows (key..., amounts...) to `table`: a row per key."""
    key, summed = SUMMED[table]
    update = ", ".join(f"{c} = {table}.{c} + excluded.{c}" for c in summed)
    insert_rows(conn, table, rows, len(key), len(summed), f"ON CONFLICT({', '.join(key)}) DO UPDATE SET {update}")
