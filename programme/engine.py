"""Points for a basket under one rules version: a fixed evaluation order and a per-line explanation.

Every rule gives each line an exact share in 1/D of a point (D = cents_per_point x 100), so
nothing is rounded until the end. The ticket's points are the sum rounded down; they are then
handed back to (line, rule) pairs by largest remainder with a tie-break on the line's content,
never its position. So the explanation sums to the ticket's points and line order never
changes the result. The order is documented in docs/rules.md.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

from .rules import WEEKDAYS, Promotion, RuleSet
from .ticket import Line, PointsEntry

# The fixed order; each step only adds points, none multiplies another's.
ORDER = ("exclusion", "base", "multiplier", "bonus", "tier", "promotion", "offer", "basket")


@dataclass(frozen=True)
class Context:
    """What the rules need besides the lines: the card, when and where, the card's tier and segments."""

    card: str | None
    at: datetime
    store: str | None = None
    tier: str | None = None
    segments: frozenset[str] = frozenset()


@dataclass
class Part:
    rule: str  # the rule id on the ticket: base, category:dairy, promotion:black-friday...
    label: str  # what a person reads
    units: int  # exact share, in 1/D point
    points: int = 0


@dataclass
class LineExplanation:
    line: int | None  # 0-based line index; None for the basket
    note: str = ""  # why a line earns nothing (excluded, no spend)
    parts: list[Part] = field(default_factory=list)

    @property
    def points(self) -> int:
        return sum(p.points for p in self.parts)


@dataclass
class Explanation:
    rules_version: str
    card: str | None
    lines: list[LineExplanation]
    basket: LineExplanation
    context: list[str]  # claims the server must reuse: tier:gold, segment:families

    @property
    def points(self) -> int:
        return sum(x.points for x in self.lines) + self.basket.points

    def entries(self) -> list[PointsEntry]:
        """The ticket's points entries: one per (line, rule) that gave points, then the context claims."""
        out = [PointsEntry(kind="earn", rule=p.rule, points=p.points, line=x.line)
               for x in (*self.lines, self.basket) for p in x.parts if p.points]
        out.extend(PointsEntry(kind="earn", rule=claim, points=0) for claim in self.context)
        return out


class _Compiled:
    """Lookups built once per rules version."""

    def __init__(self, rules: RuleSet):
        self.rules = rules
        self.denominator = rules.base.cents_per_point * 100
        self.excluded_categories = frozenset(rules.exclusions.categories)
        self.excluded_articles = frozenset(rules.exclusions.articles)
        self.article_multiplier = {m.article: m for m in rules.multipliers if m.article}
        self.category_multiplier = {m.category: m for m in rules.multipliers if m.category}
        self.bonus = {b.article: b for b in rules.bonuses}
        self.tiers = {t.name: t for t in rules.tiers}
        self.offers_by_card: dict[str, list[Promotion]] = {}
        self.offers_by_segment: dict[str, list[Promotion]] = {}
        for offer in rules.offers:
            for card in offer.cards:
                self.offers_by_card.setdefault(card, []).append(offer)
            if offer.segment:
                self.offers_by_segment.setdefault(offer.segment, []).append(offer)
        self.zone = timezone.utc
        if rules.timezone != "UTC":
            from zoneinfo import ZoneInfo

            self.zone = ZoneInfo(rules.timezone)


_compiled: dict[int, _Compiled] = {}


def _compile(rules: RuleSet) -> _Compiled:
    # Rule sets hold lists, so they do not hash; the cached entry keeps the rules alive, so ids stay unique.
    found = _compiled.get(id(rules))
    if found is None or found.rules is not rules:
        if len(_compiled) >= 64:
            _compiled.clear()
        found = _compiled[id(rules)] = _Compiled(rules)
    return found


def _active(promo: Promotion, day, weekday: str, store: str | None) -> bool:
    if promo.start and day < promo.start or promo.end and day > promo.end:
        return False
    if promo.weekdays and weekday not in promo.weekdays:
        return False
    return not promo.stores or store in promo.stores


class _Scope:
    """Active promotions indexed by what they apply to, so a line only meets the ones that concern it."""

    def __init__(self, promos: list[tuple[str, Promotion]]):
        self.everything: list[tuple[str, Promotion]] = []
        self.by_category: dict[str, list[tuple[str, Promotion]]] = {}
        self.by_article: dict[str, list[tuple[str, Promotion]]] = {}
        self.basket: list[tuple[str, Promotion]] = []
        for kind, promo in promos:
            if promo.basket_points is not None:
                self.basket.append((kind, promo))
            elif not promo.categories and not promo.articles:
                self.everything.append((kind, promo))
            else:
                for category in promo.categories:
                    self.by_category.setdefault(category, []).append((kind, promo))
                for article in promo.articles:
                    self.by_article.setdefault(article, []).append((kind, promo))

    def for_line(self, line: Line) -> list[tuple[str, Promotion]]:
        found = self.everything + self.by_category.get(line.category, []) + self.by_article.get(line.gtin, [])
        if len(found) > 1:  # a promotion naming both the article and its category counts once
            unique = {(kind, p.id): (kind, p) for kind, p in found}
            found = [unique[key] for key in sorted(unique)]
        return found


def explain(rules: RuleSet, lines: list[Line], ctx: Context) -> Explanation:
    """Points of a basket, with the rule behind every point. No card, no points."""
    c = _compile(rules)
    d = c.denominator
    result = Explanation(rules.version, ctx.card, [LineExplanation(n) for n in range(len(lines))],
                         LineExplanation(None), [])
    if ctx.card is None:
        for x in result.lines:
            x.note = "no card: no points"
        return result
    local = ctx.at.astimezone(c.zone)
    day, weekday = local.date(), WEEKDAYS[local.weekday()]
    tier = c.tiers.get(ctx.tier) if ctx.tier else None
    if tier is not None:
        result.context.append(f"tier:{tier.name}")
    offers = list(c.offers_by_card.get(ctx.card, ()))
    for segment in sorted(ctx.segments):
        if segment in c.offers_by_segment:
            result.context.append(f"segment:{segment}")
            offers.extend(c.offers_by_segment[segment])
    scope = _Scope([("promotion", p) for p in rules.promotions if _active(p, day, weekday, ctx.store)]
                   + [("offer", o) for o in offers if _active(o, day, weekday, ctx.store)])
    eligible = 0
    for line, x in zip(lines, result.lines):
        # 1. exclusions
        if line.category in c.excluded_categories or line.gtin in c.excluded_articles:
            x.note = f"excluded ({line.category})" if line.category in c.excluded_categories else "excluded article"
            continue
        cents = line.total_cents
        if cents <= 0:
            x.note = "no spend on this line"
            continue
        eligible += cents
        parts = x.parts
        # 2. base rate
        parts.append(Part("base", f"base: 1 point per {rules.base.cents_per_point} cents", cents * 100))
        # 3. article multiplier, else category multiplier
        multiplier = c.article_multiplier.get(line.gtin) or c.category_multiplier.get(line.category)
        if multiplier is not None and multiplier.percent != 100:
            what = f"article:{line.gtin}" if multiplier.article else f"category:{line.category}"
            parts.append(Part(what, f"{what} x{multiplier.percent}% of base", cents * (multiplier.percent - 100)))
        # 4. article bonus points per unit
        bonus = c.bonus.get(line.gtin)
        if bonus is not None:
            parts.append(Part(f"bonus:{line.gtin}", f"bonus {bonus.points} points per unit",
                              bonus.points * line.quantity * d))
        # 5. tier
        if tier is not None and tier.percent != 100:
            parts.append(Part(f"tier:{tier.name}", f"tier {tier.name} x{tier.percent}% of base",
                              cents * (tier.percent - 100)))
        # 6-7. dated promotions, then targeted offers
        for kind, promo in scope.for_line(line):
            if promo.percent is not None:
                units, how = cents * (promo.percent - 100), f"x{promo.percent}% of base"
            else:
                units, how = promo.points_per_unit * line.quantity * d, f"{promo.points_per_unit} points per unit"
            parts.append(Part(f"{kind}:{promo.id}", f"{kind} {promo.id}: {how}", units))
    # 8. basket bonuses (promotions, then offers) on the eligible spend
    for kind, promo in sorted(scope.basket, key=lambda kp: (ORDER.index(kp[0]), kp[1].id)):
        if eligible >= promo.basket_min_cents:
            result.basket.parts.append(Part(
                f"{kind}:{promo.id}", f"{kind} {promo.id}: {promo.basket_points} points from "
                f"{promo.basket_min_cents} cents of eligible spend", promo.basket_points * d))
    _round(result, lines, d)
    return result


def _round(result: Explanation, lines: list[Line], d: int) -> None:
    """Round the total down, then give the points back by largest remainder (content tie-break)."""
    parts = []
    total_units = 0
    for x in (*result.lines, result.basket):
        line = lines[x.line] if x.line is not None else None
        key = (line.gtin, line.quantity, line.unit_cents, line.discount_cents) if line else ("",)
        for part in x.parts:
            total_units += part.units
            part.points = part.units // d
            parts.append((part, key))
    leftover = total_units // d - sum(p.points for p, _ in parts)
    if leftover:
        parts.sort(key=lambda pk: (-(pk[0].units % d), pk[0].rule, pk[1]))
        for part, _ in parts[:leftover]:
            part.points += 1


def points_of(rules: RuleSet, lines: list[Line], ctx: Context) -> list[PointsEntry]:
    """The ticket's earn entries."""
    return explain(rules, lines, ctx).entries()


def context_of_entries(entries: list[PointsEntry]) -> tuple[str | None, frozenset[str]]:
    """The tier and segments a till claimed, read back from its 0-point context entries."""
    tier, segments = None, set()
    for entry in entries:
        if entry.points == 0 and entry.line is None and entry.kind == "earn":
            if entry.rule.startswith("tier:"):
                tier = entry.rule[5:]
            elif entry.rule.startswith("segment:"):
                segments.add(entry.rule[8:])
    return tier, frozenset(segments)
