"""A customer's standing for the desk: tier and points lots with their expiry dates, from the rules in force.

Lots and tier are programme.ledger's: the same FIFO lots the expiry job uses, the same tier the till's rules apply.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from programme.ledger import TIER_WINDOW, expires_on, rolling_spend, tier_status

from server.desk.lots import ledger_of, when as _when
from server.storage.connection import Connection

SPEND_HISTORY = TIER_WINDOW * 2 + timedelta(days=1)  # back to the window of the last review


def _spends(conn: Connection, numbers: list[str], rules, now: datetime) -> list[tuple[datetime, int]]:
    """Eligible spend per ticket (lines not excluded by the rules) over the last two tier windows."""
    excluded_categories = list(rules.exclusions.categories) or [""]
    excluded_articles = list(rules.exclusions.articles) or [""]
    rows = conn.execute(
        f"SELECT t.closed_at, sum(l.total_cents) FROM tickets t JOIN lines l ON l.ticket_id = t.id "
        f"WHERE t.card IN ({', '.join('?' * len(numbers))}) AND t.closed_at > ? "
        f"AND l.category NOT IN ({', '.join('?' * len(excluded_categories))}) "
        f"AND l.gtin NOT IN ({', '.join('?' * len(excluded_articles))}) GROUP BY t.id, t.closed_at",
        (*numbers, (now - SPEND_HISTORY).isoformat(), *excluded_categories, *excluded_articles),
    )
    return [(_when(at), cents) for at, cents in rows if cents > 0]


def standing(conn: Connection, numbers: list[str], now: datetime | None = None) -> dict:
    """Tier, rolling 12-month eligible spend, and the lots still holding points (oldest first)."""
    from server.desk.rules_versions import rules_in_force

    now = now or datetime.now(timezone.utc)
    rules = rules_in_force(conn, now.date())
    if not numbers:
        return {"rules_version": rules.version, "tier": None, "rolling_spend_cents": 0, "lots": [], "by_expiry": []}
    ledger = ledger_of(conn, numbers)  # points moved from another card keep their lot's date
    lots = [
        {
            "card": card,
            "earned_at": lot.at.isoformat(),
            "points": lot.points,
            "left": lot.left,
            "expires_on": expires_on(rules, lot.at).isoformat(),
        }
        for card in numbers
        for lot in ledger.lots(card)
        if lot.left > 0
    ]
    lots.sort(key=lambda lot: lot["earned_at"])
    by_expiry: dict[str, int] = {}
    for lot in lots:
        by_expiry[lot["expires_on"]] = by_expiry.get(lot["expires_on"], 0) + lot["left"]
    spends = _spends(conn, numbers, rules, now)
    tier = tier_status(rules, spends, now)
    return {
        "rules_version": rules.version,
        "tier": tier.name if tier else None,
        "rolling_spend_cents": rolling_spend(spends, now),
        "lots": lots,
        "by_expiry": [{"expires_on": day, "points": points} for day, points in sorted(by_expiry.items())],
    }
