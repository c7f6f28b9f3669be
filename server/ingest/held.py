"""Points held at head office: a ticket's earn points the server could not verify are not credited.

A till is not trusted with credits (server/ingest/rules_check.py). When the server cannot recompute a ticket's
points (it does not know the rules version the ticket names, or the recompute failed), the ticket's
earn points wait here instead of the ledger; its debits are booked as usual. Once the version is
recorded (`loyalty rules publish --db`, or learnt from the retained rules), the next ingest batch
recomputes each held ticket and credits what the rules give (server.ingest.rules_check.release_held).
Nothing is ever deleted.
"""

from __future__ import annotations

import logging

from sync.codec import read_stored_ticket
from sync.events import log_event

from server.ingest.store_rows import ledger_rows

log = logging.getLogger("loyalty.held")


def hold(conn, found: list[tuple], now: str) -> None:
    """Hold the earn points of each (Discrepancy, card, rules version) the server could not verify."""
    if found:
        conn.executemany(
            "INSERT INTO held_points (ticket_id, card, rules_version, points, reason, held_at) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (ticket_id) DO NOTHING",
            [(d.ticket_id, card, version, d.till_points, d.reason, now) for d, card, version in found],
        )
        for d, card, _ in found:
            log_event(
                log,
                "points_held",
                logging.WARNING,
                ticket=d.ticket_id,
                card=card,
                points=d.till_points,
                reason=d.reason,
            )


def credit_held(conn, ticket, credit: tuple, now: str, insert_ledger, by: str | None = None) -> int:
    """Book a held ticket's earn entries `credit` (same causes as had they been booked at ingest) and mark it
    released; returns the points credited. `by`: who decided, when head office released it by hand."""
    rows = ledger_rows(ticket, credit=credit, only="earn")
    insert_ledger(rows)
    points = sum(row[2] for row in rows)
    conn.execute(
        "UPDATE held_points SET released_at = ?, released_points = ?, released_by = ? WHERE ticket_id = ?",
        (now, points, by, ticket.id),
    )
    log_event(log, "points_released", ticket=ticket.id, points=points, by=by)
    return points


def release(conn, ticket_ids: list[str], now: str, by: str) -> int:
    """Head office verified these held tickets by other means: credit the till's own earn points.

    Inside the caller's transaction; returns how many were released (one already released, or never
    held, is left as it is). `by` says who decided, kept with the release."""

    def insert(rows: list[tuple]) -> None:
        conn.executemany(
            "INSERT OR IGNORE INTO ledger (card, kind, points, rule, cause, ticket_id, at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            rows,
        )

    released = 0
    for ticket_id in ticket_ids:
        row = conn.execute(
            "SELECT t.payload FROM held_points h JOIN tickets t ON t.id = h.ticket_id "
            "WHERE h.ticket_id = ? AND h.released_at IS NULL",
            (ticket_id,),
        ).fetchone()
        if row is None:
            continue
        ticket = read_stored_ticket(bytes(row[0]))
        credit_held(conn, ticket, tuple(e for e in ticket.points if e.kind == "earn"), now, insert, by)
        released += 1
    return released
