"""Estimated gross margin per category: tickets carry prices, not costs, so margin is an assumption.

The rates below are typical French supermarket gross margins (an assumption, documented in
docs/headoffice.md); change them here, in one place, and re-run the aggregates from scratch.
"""

from __future__ import annotations

# Gross margin as per-mille of the line total (integer maths: no floats in money).
MARGIN_PER_MILLE = {
    "fresh": 300,
    "grocery": 250,
    "dairy": 220,
    "drinks": 200,
    "hygiene": 300,
    "household": 280,
    "baby": 180,
    "alcohol": 220,
    "tobacco": 60,
    "fuel": 50,
    "gift_card": 0,
    "deposit": 0,
    "textile": 400,
    "electronics": 150,
}
DEFAULT_PER_MILLE = 240


def margin_cents(category: str, total_cents: int) -> int:
    """Estimated margin of a line, rounded down to the cent (a refund line gives a negative margin)."""
    return total_cents * MARGIN_PER_MILLE.get(category, DEFAULT_PER_MILLE) // 1000
