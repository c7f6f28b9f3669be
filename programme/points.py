"""Minimal earning rule of the walking skeleton: 1 point per whole euro of eligible spend.

The full, versioned rules engine replaces this; the till and the server both call `earn_points`.
"""
from .ticket import Line, PointsEntry

RULES_VERSION = "base-1"
EXCLUDED_CATEGORIES = frozenset({"tobacco", "fuel", "gift_card", "deposit"})
CENTS_PER_POINT = 100


def eligible_cents(lines: list[Line]) -> int:
    return sum(line.total_cents for line in lines if line.category not in EXCLUDED_CATEGORIES)


def earn_points(lines: list[Line], card: str | None) -> list[PointsEntry]:
    """Points earned on a basket: whole euros of eligible spend, rounded down; none without a card."""
    if card is None:
        return []
    points = max(eligible_cents(lines), 0) // CENTS_PER_POINT
    return [PointsEntry(kind="earn", rule="base: 1 point per euro", points=points)] if points else []
