"""Points for a basket under one rules version: a fixed evaluation order and a per-line explanation.

Every rule gives each line an exact share in 1/D of a point (D = cents_per_point x 100), so
nothing is rounded until the end. The ticket's points are the sum rounded down; they are then
handed back to (line, rule) pairs by largest remainder with a tie-break on the line's content,
never its position. So the explanation sums to the ticket's points and line order never
changes the result. The order is documented in docs/rules.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timezone, tzinfo

from .errors import RulesError
from .rules import WEEKDAYS, Promotion, RuleSet
from .ticket import Line, PointsEntry

# The fixed order; each step only adds points, none multiplies another's.
ORDER = ("exclusion", "base", "multiplier", "bonus", "tier", "promotion", "offer", "basket")


@dataclass(frozen=True)
class Context:
    """What the rules need besides the lines: the card, when and where, the card's tier and segments,
    and targeted offers for this card from outside the rules (head office's campaigns)."""

    card: str | None
    at: datetime
    store: str | None = None
    tier: str | None = None
    segments: frozenset[str] = frozenset()
    offers: tuple[Promotion, ...] = ()


@dataclass(slots=True)
class Part:
    rule: str  # the rule id on the ticket: base, category:dairy, promotion:black-friday...
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
        out = [
            PointsEntry(kind="earn", rule=p.rule, points=p.points, line=x.line)
            for x in (*self.lines, self.basket)
            for p in x.parts
            if p.points
        ]
        out.extend(PointsEntry(kind="earn", rule=claim, points=0) for claim in self.context)
        return out


class _Compiled:
    """Lookups built once per rules version."""

    def __init__(self, rules: RuleSet):
        self.rules = rules
        self.denominator = rules.base.cents_per_point * 100
        self.excluded_categories = frozenset(rules.exclusions.categories)
        self.excluded_articles = frozenset(rules.exclusions.articles)
        # category -> the most points a line may earn per cent of its total, times the denominator and 100
        # (loi Lang): points x redemption value <= max_percent % of the line's cents
        self.caps = {category: cap.max_percent for cap in rules.caps for category in cap.categories}
        # rule id and extra percent, ready for the hot loop
        self.article_multiplier = {
            m.article: (f"article:{m.article}", m.percent - 100) for m in rules.multipliers if m.article
        }
        self.category_multiplier = {
            m.category: (f"category:{m.category}", m.percent - 100) for m in rules.multipliers if m.category
        }
        self.bonus = {b.article: (f"bonus:{b.article}", b.points * self.denominator) for b in rules.bonuses}
        self.tiers = {t.name: t for t in rules.tiers}
        self.offers_by_card: dict[str, list[Promotion]] = {}
        self.offers_by_segment: dict[str, list[Promotion]] = {}
        for offer in rules.offers:
            for card in offer.cards:
                self.offers_by_card.setdefault(card, []).append(offer)
            if offer.segment:
                self.offers_by_segment.setdefault(offer.segment, []).append(offer)
        self.scopes: dict = {}  # (day, store) -> _Scope of the promotions in force
        self.zone: tzinfo = timezone.utc
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


def local_day(rules: RuleSet, at: datetime) -> date:
    """The calendar day of `at` in the rules' time zone: the day promotions and campaigns are dated in."""
    return at.astimezone(_compile(rules).zone).date()


def day_start(rules: RuleSet, at: datetime) -> datetime:
    """The instant, in UTC, the store's day of `at` began (midnight in the rules' time zone)."""
    zone = _compile(rules).zone
    return datetime.combine(at.astimezone(zone).date(), time(0), zone).astimezone(timezone.utc)


def _active(promo: Promotion, day, weekday: str, store: str | None) -> bool:
    if promo.start and day < promo.start or promo.end and day > promo.end:
        return False
    if promo.weekdays and weekday not in promo.weekdays:
        return False
    return not promo.stores or store in promo.stores


# An effect, precomputed: (rule id, factor, per unit). A line's units are factor x its cents (a percent
# promotion: percent - 100) or factor x its quantity (per unit: points per unit x D).
Effect = tuple[str, int, bool]
# A basket bonus, precomputed: (kind, promotion id, least eligible cents, points)
BasketBonus = tuple[str, str, int, int]


class _Scope:
    """Active promotions (or offers) indexed by what they apply to, so a line only meets its own."""

    def __init__(self, promos: list[tuple[str, Promotion]], d: int):
        self.everything: list[Effect] = []
        self.by_category: dict[str, list[Effect]] = {}
        self.by_article: dict[str, list[Effect]] = {}
        self.basket: list[BasketBonus] = []
        self.both: set[str] = set()  # rule ids naming categories and articles: may meet a line twice
        for kind, promo in promos:
            effect: Effect
            # check_rules gives each promotion exactly one effect; a Context's offers are built with one too.
            if promo.basket_points is not None and promo.basket_min_cents is not None:
                self.basket.append((kind, promo.id, promo.basket_min_cents, promo.basket_points))
                continue
            if promo.basket_points is None and promo.percent is not None:
                effect = (f"{kind}:{promo.id}", promo.percent - 100, False)
            elif promo.basket_points is None and promo.points_per_unit is not None:
                effect = (f"{kind}:{promo.id}", promo.points_per_unit * d, True)
            else:
                raise RulesError(
                    f"{kind} {promo.id}: give exactly one effect: `percent`, `points_per_unit` or "
                    "`basket_points` with `basket_min_cents`"
                )
            if not promo.categories and not promo.articles:
                self.everything.append(effect)
            if promo.categories and promo.articles:
                self.both.add(effect[0])
            for category in dict.fromkeys(promo.categories):  # a name listed twice counts once
                self.by_category.setdefault(category, []).append(effect)
            for article in dict.fromkeys(promo.articles):
                self.by_article.setdefault(article, []).append(effect)

    def for_line(self, line: Line) -> list[Effect]:
        by_category, by_article = self.by_category.get(line.category), self.by_article.get(line.gtin)
        if not by_category and not by_article:
            return self.everything
        found = self.everything + (by_category or []) + (by_article or [])
        if self.both and by_category and by_article:
            seen: set[str] = set()
            unique = []
            for effect in found:
                if effect[0] not in seen:
                    seen.add(effect[0])
                    unique.append(effect)
            found = unique
        return found


def _promotions_scope(c: _Compiled, day, weekday: str, store: str | None) -> _Scope:
    """The dated promotions in force, indexed once per (day, store) and kept."""
    key = (day, store)
    scope = c.scopes.get(key)
    if scope is None:
        if len(c.scopes) >= 256:
            c.scopes.clear()
        active = [("promotion", p) for p in c.rules.promotions if _active(p, day, weekday, store)]
        scope = c.scopes[key] = _Scope(active, c.denominator)
    return scope


def _evaluate(rules: RuleSet, lines: list[Line], ctx: Context):
    """The core: every (line, rule, exact units) in the fixed order, plus notes and context claims."""
    c = _compile(rules)
    d = c.denominator
    notes: dict[int, str] = {}
    parts: list[tuple[int | None, str, int]] = []
    claims: list[str] = []
    if ctx.card is None:
        return parts, {n: "no card: no points" for n in range(len(lines))}, claims
    local = ctx.at.astimezone(c.zone)
    day, weekday = local.date(), WEEKDAYS[local.weekday()]
    promotions = _promotions_scope(c, day, weekday, ctx.store)
    tier_rule, tier_extra, offer_scope = _card_scope(c, ctx, ctx.card, day, weekday, claims)
    excluded_categories, excluded_articles = c.excluded_categories, c.excluded_articles
    article_multiplier, category_multiplier, bonuses = c.article_multiplier, c.category_multiplier, c.bonus
    add = parts.append
    eligible = 0
    caps = c.caps
    for n, line in enumerate(lines):
        # 1. exclusions
        if line.category in excluded_categories:
            notes[n] = f"excluded ({line.category})"
            continue
        if line.gtin in excluded_articles:
            notes[n] = "excluded article"
            continue
        cents = line.total_cents
        if cents <= 0:
            notes[n] = "no spend on this line"
            continue
        first = len(parts)
        cap = caps.get(line.category)
        if cap is None:  # a capped line's spend counts for no basket bonus: its advantages are its own parts
            eligible += cents
        # 2. base rate
        add((n, "base", cents * 100))
        # 3. article multiplier, else category multiplier
        multiplier = article_multiplier.get(line.gtin) or category_multiplier.get(line.category)
        if multiplier is not None and multiplier[1]:
            add((n, multiplier[0], cents * multiplier[1]))
        # 4. article bonus points per unit
        bonus = bonuses.get(line.gtin)
        if bonus is not None:
            add((n, bonus[0], bonus[1] * line.quantity))
        # 5. tier
        if tier_rule is not None:
            add((n, tier_rule, cents * tier_extra))
        # 6. dated promotions
        for rule, factor, per_unit in promotions.for_line(line):
            add((n, rule, factor * (line.quantity if per_unit else cents)))
        # 7. targeted offers
        if offer_scope is not None:
            for rule, factor, per_unit in offer_scope.for_line(line):
                add((n, rule, factor * (line.quantity if per_unit else cents)))
        # 7b. a cap on the line's advantages: the last rules give back first, the base last
        if cap is not None:
            _cap_line(parts, first, cents * cap // (100 * rules.redemption.cents_per_point), d)
            if all(units == 0 for _, _, units in parts[first:]):
                notes[n] = f"capped at {cap}% ({line.category})"
    # 8. basket bonuses (promotions, then offers) on the eligible spend
    basket = promotions.basket + (offer_scope.basket if offer_scope else [])
    for kind, promo_id, min_cents, points in sorted(basket, key=lambda b: (ORDER.index(b[0]), b[1])):
        if eligible >= min_cents:
            add((None, f"{kind}:{promo_id}", points * d))
    return parts, notes, claims


def _card_scope(c: _Compiled, ctx: Context, card: str, day, weekday: str, claims: list[str]):
    """The card's own rules for the ticket: its tier's rule id and extra percent ((None, 0) without one) and its
    targeted offers in force (by card, by segment, from the context), or None; the tier and segments that
    changed anything are added to `claims`."""
    tier = c.tiers.get(ctx.tier) if ctx.tier else None
    if tier is not None:
        claims.append(f"tier:{tier.name}")
    offers = list(c.offers_by_card.get(card, ()))
    for segment in sorted(ctx.segments):
        if segment in c.offers_by_segment:
            claims.append(f"segment:{segment}")
            offers.extend(c.offers_by_segment[segment])
    offers.extend(ctx.offers)
    offer_scope = (
        _Scope([("offer", o) for o in offers if _active(o, day, weekday, ctx.store)], c.denominator) if offers else None
    )
    if tier is not None and tier.percent != 100:
        return f"tier:{tier.name}", tier.percent - 100, offer_scope
    return None, 0, offer_scope


def _cap_line(parts: list[tuple[int | None, str, int]], first: int, most_points: int, d: int) -> None:
    """Trim the parts from `first` on (one line's) to at most `most_points` whole points, the base kept first
    and the latest rules given back first. Each part is rounded down to whole points, so the ticket's rounding
    has no remainder to hand back to a capped line and cannot lift it past its cap."""
    room = most_points * d
    for i in range(first, len(parts)):
        line, rule, units = parts[i]
        kept = min(units, room) // d * d
        room -= kept
        parts[i] = (line, rule, kept)


def _round(parts: list[tuple[int | None, str, int]], lines: list[Line], d: int) -> list[int]:
    """Points per part: the total rounded down, handed back by largest remainder (content tie-break)."""
    all_units = [part[2] for part in parts]
    points = [units // d for units in all_units]
    leftover = sum(all_units) // d - sum(points)
    if leftover <= 0:
        return points
    remainders = [units % d for units in all_units]
    cut = sorted(remainders, reverse=True)[leftover - 1]
    tied = []
    for i, r in enumerate(remainders):
        if r > cut:
            points[i] += 1
            leftover -= 1
        elif r == cut:
            tied.append(i)
    if leftover:

        def key(i):
            line = lines[parts[i][0]] if parts[i][0] is not None else None
            return (parts[i][1], (line.gtin, line.quantity, line.unit_cents, line.discount_cents) if line else ("",))

        for i in sorted(tied, key=key)[:leftover]:
            points[i] += 1
    return points


def explain(rules: RuleSet, lines: list[Line], ctx: Context) -> Explanation:
    """Points of a basket, with the rule behind every point. No card, no points."""
    parts, notes, claims = _evaluate(rules, lines, ctx)
    points = _round(parts, lines, _compile(rules).denominator)
    result = Explanation(
        rules.version,
        ctx.card,
        [LineExplanation(n, notes.get(n, "")) for n in range(len(lines))],
        LineExplanation(None),
        claims,
    )
    for (line, rule, units), p in zip(parts, points):
        (result.basket if line is None else result.lines[line]).parts.append(Part(rule, units, p))
    return result


def points_of(rules: RuleSet, lines: list[Line], ctx: Context) -> list[PointsEntry]:
    """The ticket's earn entries (the hot path: no explanation objects)."""
    parts, _, claims = _evaluate(rules, lines, ctx)
    points = _round(parts, lines, _compile(rules).denominator)
    out = [PointsEntry(kind="earn", rule=rule, points=p, line=line) for (line, rule, _), p in zip(parts, points) if p]
    out.extend(PointsEntry(kind="earn", rule=claim, points=0) for claim in claims)
    return out


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
