"""Points a till holds at head office before it spends them (a points tender, a loyalty cheque), so that two
tills online cannot spend the same points.

A reservation is granted when the card's balance at head office, less every other reservation still held,
covers it; the check and the insert run in one transaction that two answering processes serialise (SQLite:
BEGIN IMMEDIATE; PostgreSQL: a transaction lock per card), so the last points go to one till only. It ends
`consumed` when the till's ticket that uses it is stored (server.ingest.overdraft, inside the ingest transaction),
`released` when the till cancels the sale, or lapses unused RESERVATION_TTL after it was granted. The table
sits beside the ticket store, on SQLite or PostgreSQL (the SQL is the common subset).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from server.storage.connection import transaction
from server.storage.sql import lock_key
from server.storage.tables import iso

RESERVATION_TTL = timedelta(minutes=2)  # a cashier finishes the payment well within this; tests shorten it


@dataclass(frozen=True)
class Outcome:
    """A reservation granted (`id`, `expires_at`) or refused (`message`, with `available`)."""

    granted: bool
    points: int
    available: int
    id: str | None = None
    expires_at: datetime | None = None
    message: str | None = None
    code: str | None = None  # the message as a code and its parameters (sync.requests.Reply.code)
    params: dict = field(default_factory=dict)


def refusal_code(asked: int, available: int, held_elsewhere: int) -> tuple[str, dict]:
    """The refusal as a code and its parameters, which a till shows in its cashier's language."""
    if held_elsewhere:
        code = "reserve_held_elsewhere" if available else "reserve_held_elsewhere_none"
        return code, {"available": available, "held": held_elsewhere}
    if available:
        return "reserve_short", {"available": available, "asked": asked}
    return "reserve_none", {"asked": asked}


def refusal(asked: int, available: int, held_elsewhere: int) -> str:
    """What the cashier reads when head office refuses a reservation."""
    if held_elsewhere:
        head = f"only {available} points available" if available else "no points available"
        then = f"redeem at most {available}" if available else "wait until that sale closes"
        return f"{head}: another till holds a reservation of {held_elsewhere} points on this card; {then}"
    if available:
        return (
            f"only {available} points available at head office for this card, {asked} asked; redeem at most {available}"
        )
    return (
        f"no points available at head office for this card, {asked} asked: they were spent since the till "
        "read its balance; identify the card again"
    )


def reserve(conn, terminal: str, card: str, points: int, after_seq: int, reservation_id: str, now: datetime) -> Outcome:
    """Hold `points` of `card` for `terminal` if head office's balance less other reservations covers them.

    Commits its own transaction (call it outside any other)."""
    with transaction(conn):
        lock_key(conn, f"reserve:{card}")
        stamp = iso(now)
        again = conn.execute(
            "SELECT terminal, card, points, expires_at FROM reservations WHERE id = ?", (reservation_id,)
        ).fetchone()
        if again is not None:  # the same request delivered twice (QoS 1): the same answer, nothing held twice
            if (again[0], again[1], again[2]) != (terminal, card, points):
                return Outcome(
                    False,
                    points,
                    0,
                    message=f"request {reservation_id} was already used: ask again",
                    code="reserve_used",
                    params={"request": reservation_id},
                )
            return Outcome(True, points, 0, id=reservation_id, expires_at=datetime.fromisoformat(again[3]))
        # One statement: one snapshot of the balance and of the reservations (an ingest that consumes a
        # reservation commits the ticket's debit with it, so both are seen or neither).
        balance, held, held_elsewhere = conn.execute(
            "SELECT (SELECT points FROM card_points WHERE card = ?), "
            "(SELECT coalesce(sum(points), 0) FROM reservations "
            "WHERE card = ? AND status = 'held' AND expires_at > ?), "
            "(SELECT coalesce(sum(points), 0) FROM reservations WHERE card = ? AND status = 'held' AND expires_at > ? "
            "AND terminal <> ?)",
            (card, card, stamp, card, stamp, terminal),
        ).fetchone()
        available = max((balance or 0) - held, 0)
        if points > available:  # refused: nothing written (the block's end commits nothing)
            code, params = refusal_code(points, available, held_elsewhere)
            message = refusal(points, available, held_elsewhere)
            return Outcome(False, points, available, message=message, code=code, params=params)
        expires = now + RESERVATION_TTL
        conn.execute(
            "INSERT INTO reservations (id, card, terminal, points, after_seq, created_at, expires_at, status) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, 'held')",
            (reservation_id, card, terminal, points, after_seq, stamp, iso(expires)),
        )
    return Outcome(True, points, available - points, id=reservation_id, expires_at=expires)


def release(conn, terminal: str, reservation_id: str, now: datetime) -> bool:
    """The till cancelled the sale: free its held reservation (only the till that holds it may). True if freed."""
    with conn:
        return (
            conn.execute(
                "UPDATE reservations SET status = 'released', ended_at = ? "
                "WHERE id = ? AND terminal = ? AND status = 'held'",
                (iso(now), reservation_id, terminal),
            ).rowcount
            > 0
        )


def consume(conn, tickets, now: str) -> int:
    """Inside the ingest transaction: each stored ticket that takes points from its card consumes the
    reservations its till held on that card before it (after_seq below its sequence). Returns how many."""
    spending = [
        (t.id, t.card, t.terminal, t.seq) for t in tickets if t.card and any(e.kind == "redeem" for e in t.points)
    ]
    if not spending:
        return 0
    done = 0
    for ticket_id, card, terminal, seq in spending:
        done += conn.execute(
            "UPDATE reservations SET status = 'consumed', ticket_id = ?, ended_at = ? "
            "WHERE card = ? AND terminal = ? AND status = 'held' AND after_seq < ?",
            (ticket_id, now, card, terminal, seq),
        ).rowcount
    return done


def held(conn, card: str, now: datetime) -> list[dict]:
    """The card's reservations still held (not consumed, released or lapsed)."""
    rows = conn.execute(
        "SELECT id, terminal, points, created_at, expires_at FROM reservations "
        "WHERE card = ? AND status = 'held' AND expires_at > ? ORDER BY created_at",
        (card, iso(now)),
    ).fetchall()
    return [dict(zip(("id", "terminal", "points", "created_at", "expires_at"), row)) for row in rows]
