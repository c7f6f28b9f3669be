"""Points at the till and the server: a thin adapter over the rules engine with the shipped rules.

`earn_points(lines, card)` keeps the walking skeleton's call; pass `rules`, `at` and `store` to
use a published version. The shipped rules are package data (programme/default_rules.toml), read
once; every other rules file is read at the edges (terminal.rules_store, server.ingest.rules_check, CLI).
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from importlib import resources

from .engine import Context, points_of
from .rules import Promotion, RuleSet, parse_rules
from .ticket import Line, PointsEntry, utc_now

RULES_VERSION = "2026.1"  # the version of default_rules.toml (a test keeps them equal)
EXCLUDED_CATEGORIES = frozenset({"tobacco", "fuel", "gift_card", "deposit"})


@cache
def default_rules() -> RuleSet:
    return parse_rules(resources.files(__package__).joinpath("default_rules.toml").read_text(), "default_rules.toml")


def eligible_cents(lines: list[Line], rules: RuleSet | None = None) -> int:
    """Spend that earns points: lines outside the exclusions (lines with no spend count as 0)."""
    rules = rules or default_rules()
    categories, articles = set(rules.exclusions.categories), set(rules.exclusions.articles)
    return sum(max(li.total_cents, 0) for li in lines if li.category not in categories and li.gtin not in articles)


def earn_points(
    lines: list[Line],
    card: str | None,
    rules: RuleSet | None = None,
    at: datetime | None = None,
    store: str | None = None,
    tier: str | None = None,
    segments: frozenset[str] = frozenset(),
    offers: tuple[Promotion, ...] = (),
) -> list[PointsEntry]:
    """The ticket's earn entries, one per (line, rule) that gave points; none without a card.

    `offers`: targeted offers for this card from outside the rules (programme.campaign_offers)."""
    return points_of(
        rules or default_rules(),
        lines,
        Context(card=card, at=at or utc_now(), store=store, tier=tier, segments=segments, offers=tuple(offers)),
    )
