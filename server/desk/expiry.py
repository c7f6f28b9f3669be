"""The expiry job: points past their date leave the ledger as `expire` entries, one per card and lot.

Idempotent: each entry's cause is `expire:{card}:{lot cause}`, and the ledger's cause is unique,
so running it twice (or for an earlier date) adds nothing. The maths is programme.ledger's.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timezone

from programme.ledger import Ledger
from programme.rules import RuleSet

from server.desk import lots
from server.storage.connection import Connection, transaction


def run_expiry(conn: Connection, rules: RuleSet, as_of: date, progress: Callable[[int], None] | None = None) -> dict:
    """Expire every lot whose date is on or before `as_of`; returns counts for the log and the command
    (`cards`: the cards with points left, whose lots were looked at)."""
    at = datetime.combine(as_of, time(), timezone.utc)
    new = []
    cards = 0
    # Points moved from another card count from their lot's date (lot_at), not from the move. Only cards
    # with points left (card_points) can have any to expire: the others' ledgers are not read.
    for card, entries in lots.by_card(
        conn.execute(
            f"SELECT {lots.COLUMNS} FROM ledger WHERE card IN (SELECT card FROM card_points WHERE points > 0) "
            "ORDER BY card, id"
        )
    ):
        cards += 1
        ledger = Ledger()
        for entry in entries:
            ledger.post(entry)
        new.extend(ledger.expire(rules, as_of, at))
        if progress:
            progress(1)
    with transaction(conn):
        cur = conn.executemany(
            "INSERT OR IGNORE INTO ledger (card, kind, points, rule, cause, ticket_id, at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(e.card, e.kind, e.points, e.rule, e.cause, None, e.at.isoformat()) for e in new],
        )
        written = cur.rowcount if new else 0  # nothing executed: sqlite3 says 0, psycopg -1
    return {
        "as_of": as_of.isoformat(),
        "rules_version": rules.version,
        "cards": cards,
        "entries": written,
        "points": -sum(e.points for e in new),
    }
