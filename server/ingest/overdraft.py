"""Overdrafts at head office: a card whose balance is negative once a batch of tickets is stored.

Tills offline may each spend, under their daily cap, points another till spent too; the tickets meet at
head office. `record_overdrafts` runs inside the ingest transaction (SQLite and PostgreSQL alike): it marks
the reservations the batch's tickets used (server.ingest.reservations), then keeps one row per card the batch
took points from and left below zero, naming the card's tickets that took points in the day before, so
head office can follow it up (the sync page lists them). Points held unverified count as the card's.
Replaying a batch stores nothing again, so flags
nothing twice.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from programme.ticket import signed_points

from server.ingest.reservations import consume
from server.ingest.store_rows import chunks

OVERDRAFT_LOOKBACK = timedelta(days=1)  # the tickets named: those that took points from the card this long before


def record_overdrafts(conn, tickets, now: str) -> int:
    """Consume the reservations the stored `tickets` used, then flag every card they took points from that is
    now below zero. Runs in the caller's (ingest) transaction; returns how many cards were flagged."""
    consume(conn, tickets, now)
    latest: dict[str, datetime] = {}  # card -> the latest of the batch's tickets taking points from it
    for ticket in tickets:
        if ticket.card and any(signed_points(e) < 0 for e in ticket.points):
            at = ticket.closed_at.astimezone(timezone.utc)
            latest[ticket.card] = max(at, latest.get(ticket.card, at))
    if not latest:
        return 0
    negative: dict[str, int] = {}
    for chunk in chunks(sorted(latest)):
        negative.update(
            conn.execute(
                f"SELECT card, points FROM card_points WHERE points < 0 AND card IN ({','.join('?' * len(chunk))})",
                chunk,
            ).fetchall()
        )
    # Points held while head office cannot verify them (server/ingest/held.py) are the card's all the same:
    # a card is overdrawn when it spent more than it earned, not while a credit waits to be checked.
    for card in list(negative):
        held = conn.execute(
            "SELECT coalesce(sum(points), 0) FROM held_points WHERE card = ? AND released_at IS NULL", (card,)
        ).fetchone()[0]
        if negative[card] + held >= 0:
            del negative[card]
    if not negative:
        return 0
    for card, balance in sorted(negative.items()):
        since = (latest[card] - OVERDRAFT_LOOKBACK).isoformat()
        spent = [
            row[0]
            for row in conn.execute(
                "SELECT DISTINCT ticket_id FROM ledger WHERE card = ? AND points < 0 AND ticket_id IS NOT NULL "
                "AND at >= ? ORDER BY ticket_id",
                (card, since),
            ).fetchall()
        ]
        conn.execute(
            "INSERT INTO overdrafts (card, balance, tickets, detected_at) VALUES (?, ?, ?, ?)",
            (card, balance, " ".join(spent), now),
        )
    return len(negative)


def recent(conn, limit: int = 100) -> list[dict]:
    """The latest overdrafts flagged, newest first: card, balance then, tickets named, when."""
    rows = conn.execute(
        "SELECT id, card, balance, tickets, detected_at FROM overdrafts ORDER BY id DESC LIMIT ?", (limit,)
    ).fetchall()
    return [{"id": r[0], "card": r[1], "balance": r[2], "tickets": r[3].split(), "detected_at": r[4]} for r in rows]


def count(conn) -> int:
    return conn.execute("SELECT count(*) FROM overdrafts").fetchone()[0]
