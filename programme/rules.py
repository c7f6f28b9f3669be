"""The programme's rules as versioned data: typed structs, read from TOML text and checked.

Errors name the field, the line of the file and what was expected (see docs/rules.md).
Reading the file itself happens at the edges; this module only parses text.
"""

from __future__ import annotations

import re
import tomllib
from datetime import date, datetime
from typing import Annotated, Literal

import msgspec

from .cardnumber import validate_card_number
from .errors import CardNumberError, RulesError

# The tickets the rules must give points to without fail: programme/ticket.py's bounds, one source.
from .ticket import MAX_AMOUNT_CENTS as TICKET_MAX_LINE_CENTS
from .ticket import MAX_ENTRY_POINTS
from .ticket import MAX_QUANTITY as TICKET_MAX_QUANTITY


# Bounds of a rules file (docs/rules.md, "Bounds"). Together they keep every points entry within
# MAX_ENTRY_POINTS for any ticket within the bounds above: one rule gives at most 10 points per euro
# (a 1,000,000.00 EUR line: 10,000,000), a per-unit rule at most 100 points a unit (99,999 units).
MAX_RULES_BYTES = 1 << 20  # a rules file (the TOML text)
MAX_POINTS_PER_EURO = 10  # under one rule: base, a multiplier, a tier, a percent promotion or offer
MIN_CENTS_PER_POINT = 100 // MAX_POINTS_PER_EURO
MAX_CENTS_PER_POINT = 100_000  # at least one point per 1,000.00 EUR
MAX_PERCENT = 10_000
MAX_POINTS_PER_UNIT = MAX_ENTRY_POINTS // TICKET_MAX_QUANTITY  # 100
MAX_POINTS = 1_000_000  # a basket bonus, a cheque threshold, the least redeemed, the offline daily cap
MAX_SPEND_CENTS = 10_000_000_000  # a tier's 12-month spend: 100,000,000.00 EUR
MAX_CHEQUE_CENTS = 100_000  # 1,000.00 EUR a cheque
MAX_POINT_VALUE_CENTS = 100  # a point redeemed is worth at most 1.00 EUR
MAX_EXPIRY_YEARS = 10
MAX_PROMOTIONS = 1_000  # promotions in force may meet every line: their number bounds a ticket's work
MAX_OFFERS = 10_000
MAX_TIERS = 20

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
PerUnit = Annotated[int, msgspec.Meta(ge=1, le=MAX_POINTS_PER_UNIT)]
Points = Annotated[int, msgspec.Meta(ge=1, le=MAX_POINTS)]
SomePoints = Annotated[int, msgspec.Meta(ge=0, le=MAX_POINTS)]
BasketCents = Annotated[int, msgspec.Meta(ge=0, le=TICKET_MAX_LINE_CENTS)]
Percent = Annotated[int, msgspec.Meta(ge=100, le=MAX_PERCENT)]
Month = Annotated[int, msgspec.Meta(ge=1, le=12)]
Day = Annotated[int, msgspec.Meta(ge=1, le=31)]
Id = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9][a-z0-9_.-]{0,39}$")]
UtcTime = Annotated[datetime, msgspec.Meta(tz=True)]


class _Rule(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Every rule struct: frozen, unknown fields refused. Subclasses inherit both at run time; each says
    frozen=True again because type checkers read that per class."""


class Base(_Rule, frozen=True):
    cents_per_point: Annotated[int, msgspec.Meta(ge=MIN_CENTS_PER_POINT, le=MAX_CENTS_PER_POINT)] = 100
    rounding: Literal["down"] = "down"


class Exclusions(_Rule, frozen=True):
    categories: list[str] = []  # earn nothing and take no promotion or offer
    articles: list[str] = []
    redemption_categories: list[str] = []  # points (as a tender) may not pay for these lines


class Cap(_Rule, frozen=True):
    """Loyalty advantages on lines of these categories stay within `max_percent` of their price: the points a
    line earns are worth (at [redemption] cents_per_point) at most that share of its total (loi Lang: books)."""

    categories: list[str]
    max_percent: Annotated[int, msgspec.Meta(ge=0, le=100)]


class Multiplier(_Rule, frozen=True):
    """Category or article multiplier, in percent of the base points (200 = twice the base)."""

    percent: Percent
    category: str | None = None
    article: str | None = None


class Bonus(_Rule, frozen=True):
    """Fixed bonus points for each unit of an article."""

    article: str
    points: PerUnit


class Promotion(_Rule, frozen=True):
    """A dated promotion; an offer is a promotion for some cards or a segment only."""

    id: Id
    start: date | None = None
    end: date | None = None
    weekdays: list[Weekday] = []
    stores: list[str] = []
    categories: list[str] = []
    articles: list[str] = []
    percent: Percent | None = None
    points_per_unit: PerUnit | None = None
    basket_min_cents: BasketCents | None = None
    basket_points: Points | None = None
    cards: list[str] = []
    segment: str | None = None


class Tier(_Rule, frozen=True):
    name: Id
    min_spend_cents: Annotated[int, msgspec.Meta(ge=0, le=MAX_SPEND_CENTS)]
    percent: Percent


class TierReview(_Rule, frozen=True):
    """Upgrades happen as soon as the rolling 12-month spend allows; downgrades only at the review date."""

    month: Month = 1
    day: Day = 1


class Cheques(_Rule, frozen=True):
    threshold_points: Points
    cheque_cents: Annotated[int, msgspec.Meta(ge=1, le=MAX_CHEQUE_CENTS)]
    issue: Literal["till", "schedule"] = "till"


class Expiry(_Rule, frozen=True):
    """Points earned in year Y expire on month/day of Y + years_after."""

    years_after: Annotated[int, msgspec.Meta(ge=1, le=MAX_EXPIRY_YEARS)] = 1
    month: Month = 2
    day: Day = 28


class Redemption(_Rule, frozen=True):
    cents_per_point: Annotated[int, msgspec.Meta(ge=1, le=MAX_POINT_VALUE_CENTS)] = 1
    min_points: SomePoints = 0
    offline_daily_cap_points: SomePoints = 2000


class RuleSet(_Rule, frozen=True):
    version: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")]
    effective_from: UtcTime
    timezone: str = "UTC"
    base: Base = Base()
    exclusions: Exclusions = Exclusions()
    multipliers: list[Multiplier] = []
    bonuses: list[Bonus] = []
    promotions: Annotated[list[Promotion], msgspec.Meta(max_length=MAX_PROMOTIONS)] = []
    offers: Annotated[list[Promotion], msgspec.Meta(max_length=MAX_OFFERS)] = []
    tiers: Annotated[list[Tier], msgspec.Meta(max_length=MAX_TIERS)] = []
    tier_review: TierReview = TierReview()
    cheques: Cheques | None = None
    expiry: Expiry = Expiry()
    redemption: Redemption = Redemption()
    caps: list[Cap] = []


# -- reading ---------------------------------------------------------------------------------------
_MSGSPEC_PATH = re.compile(r"^(?P<what>.*?)(?: - at `\$(?P<path>[^`]*)`)?$")
_HEADER = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.-]+)\s*\]\]?")
_KEY = re.compile(r"^\s*([A-Za-z0-9_-]+)\s*=")
_TOML_LINE = re.compile(r"\(at line (\d+), column \d+\)")


def _key_lines(text: str) -> dict[tuple, int]:
    """Map each (table, [index], key) path of the text to its 1-based line number."""
    found: dict[tuple, int] = {}
    counts: dict[str, int] = {}
    table: tuple = ()
    for number, raw in enumerate(text.splitlines(), start=1):
        header = _HEADER.match(raw)
        if header:
            name = header.group(2)
            if header.group(1) == "[[":
                counts[name] = counts.get(name, -1) + 1
                table = (name, counts[name])
            else:
                table = (name,)
            found.setdefault(table, number)
            continue
        key = _KEY.match(raw)
        if key:
            found.setdefault((*table, key.group(1)), number)
    return found


def _parse_path(path: str) -> tuple:
    parts: list = []
    for name, index in re.findall(r"\.([A-Za-z0-9_-]+)|\[(\d+)\]", path):
        parts.append(name if name else int(index))
    return tuple(parts)


def _line_of(lines: dict[tuple, int], path: tuple) -> int | None:
    while path:
        if path in lines:
            return lines[path]
        path = path[:-1]
    return None


def _dotted(path: tuple) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def _fail(source: str, lines: dict[tuple, int], path: tuple, expected: str) -> RulesError:
    line = _line_of(lines, path)
    where = f"{source}, line {line}" if line else source
    field = _dotted(path)
    return RulesError(f"{where}: {field}: {expected}" if field else f"{where}: {expected}")


_CHOICES = {"weekdays": WEEKDAYS, "rounding": ("down",), "issue": ("till", "schedule")}


def _explain_msgspec(what: str, path: tuple) -> tuple[str, str | None]:
    """Turn msgspec's wording into ours; returns (expected, extra path component)."""
    match = re.match(r"Object contains unknown field `([^`]+)`", what)
    if match:
        return "unknown field: check its spelling against docs/rules.md", match.group(1)
    match = re.match(r"Object missing required field `([^`]+)`", what)
    if match:
        return f"missing required field `{match.group(1)}`", None
    if what.startswith("Expected `datetime` with a timezone"):
        return "expected a UTC time with its offset, like 2026-11-01T00:00:00Z", None
    match = re.match(r"Invalid enum value (.*)", what)
    if match:
        name = next((p for p in reversed(path) if isinstance(p, str)), "")
        choices = ", ".join(_CHOICES.get(name, ()))
        return f"expected one of {choices}, got {match.group(1)}", None
    match = re.match(r"Expected `array` of length <= (\d+)", what)
    if match:
        return f"expected at most {match.group(1)} entries", None
    match = re.match(r"Expected `([^`]+)`, got `([^`]+)`", what)
    if match:
        return f"expected {match.group(1).replace(' | null', '')}, got {match.group(2)}", None
    return (what[0].lower() + what[1:]).replace("`", ""), None


def parse_rules(text: str, source: str = "rules") -> RuleSet:
    """Read and check a rules file's text; raises RulesError naming the field, line and expectation."""
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_RULES_BYTES:
        raise RulesError(
            f"{source} is {size:,} bytes, more than the {MAX_RULES_BYTES:,} a rules file may have: "
            "keep a rules file under 1 MiB"
        )
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = _TOML_LINE.search(str(exc))
        where = f"{source}, line {match.group(1)}" if match else source
        raise RulesError(f"{where}: not valid TOML: {exc}") from None
    except RecursionError:  # tomllib reads nested arrays and tables recursively
        raise RulesError(f"{source}: not valid TOML: nested too deeply (arrays or tables within each other)") from None
    lines = _key_lines(text)
    try:
        rules = msgspec.convert(data, RuleSet)
    except RecursionError:
        raise RulesError(f"{source}: nested too deeply (arrays or tables within each other)") from None
    except msgspec.ValidationError as exc:
        match = _MSGSPEC_PATH.match(str(exc))
        if match is None:  # only a message with a line break in it: say it as msgspec does
            raise RulesError(f"{source}: {exc}") from None
        path = _parse_path(match.group("path") or "")
        expected, extra = _explain_msgspec(match.group("what"), path)
        if extra:
            path = (*path, extra)
        raise _fail(source, lines, path, expected) from None
    check_rules(rules, lambda path, expected: _fail(source, lines, path, expected))
    return rules


def check_rules(rules: RuleSet, fail) -> None:
    """What types alone cannot say; `fail(path, expected)` builds the error."""
    seen_multipliers: set[tuple[str, str | None]] = set()
    for n, rule in enumerate(rules.multipliers):
        if (rule.category is None) == (rule.article is None):
            raise fail(("multipliers", n), "give exactly one of `category` or `article`")
        key = ("article", rule.article) if rule.article else ("category", rule.category)
        if key in seen_multipliers:
            raise fail(("multipliers", n, key[0]), f"a second multiplier for {key[0]} {key[1]!r}: keep one")
        seen_multipliers.add(key)
    for section in ("promotions", "offers"):
        ids: set[str] = set()
        for n, promo in enumerate(getattr(rules, section)):
            if promo.id in ids:
                raise fail((section, n, "id"), f"id {promo.id!r} is used twice: ids are unique")
            ids.add(promo.id)
            _check_promotion(section, n, promo, fail)
    _check_percents(rules, fail)
    names, previous = set(), -1
    for n, tier in enumerate(rules.tiers):
        if tier.name in names:
            raise fail(("tiers", n, "name"), f"tier {tier.name!r} is defined twice")
        names.add(tier.name)
        if tier.min_spend_cents <= previous:
            raise fail(
                ("tiers", n, "min_spend_cents"),
                f"expected more than the previous tier's {previous}: list tiers from lowest to highest",
            )
        previous = tier.min_spend_cents
    capped: set[str] = set()
    for n, cap in enumerate(rules.caps):
        if not cap.categories:
            raise fail(("caps", n, "categories"), "name at least one category")
        for category in cap.categories:
            if category in capped:
                raise fail(("caps", n, "categories"), f"category {category!r} is capped twice: keep one cap")
            capped.add(category)
    _check_day(rules.tier_review.month, rules.tier_review.day, ("tier_review", "day"), fail)
    _check_day(rules.expiry.month, rules.expiry.day, ("expiry", "day"), fail)
    if rules.timezone != "UTC":
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(rules.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise fail(("timezone",), f"expected a time zone name like Europe/Paris, got {rules.timezone!r}") from None


def _check_percents(rules: RuleSet, fail) -> None:
    """Whatever multiplies the base stays within MAX_POINTS_PER_EURO points per euro under one rule."""
    cents = rules.base.cents_per_point
    most = 100 + MAX_POINTS_PER_EURO * cents
    if most >= MAX_PERCENT:
        return
    for section in ("multipliers", "tiers", "promotions", "offers"):
        for n, rule in enumerate(getattr(rules, section)):
            if rule.percent is not None and rule.percent > most:
                raise fail(
                    (section, n, "percent"),
                    f"expected at most {most} with [base] cents_per_point = {cents}: "
                    f"one rule gives at most {MAX_POINTS_PER_EURO} points per euro",
                )


def _check_day(month: int, day: int, path: tuple, fail) -> None:
    try:
        date(2001, month, day)  # not a leap year: 29 February would vanish three years in four
    except ValueError:
        raise fail(path, f"day {day} does not exist in month {month}") from None


def _check_promotion(section: str, n: int, promo: Promotion, fail) -> None:
    effects = [name for name in ("percent", "points_per_unit", "basket_points") if getattr(promo, name) is not None]
    if len(effects) != 1:
        raise fail((section, n), "give exactly one effect: `percent`, `points_per_unit` or `basket_points`")
    if (promo.basket_points is None) != (promo.basket_min_cents is None):
        raise fail((section, n), "`basket_points` and `basket_min_cents` go together")
    if promo.start and promo.end and promo.end < promo.start:
        raise fail((section, n, "end"), f"expected a date on or after start {promo.start}, got {promo.end}")
    if section == "promotions" and (promo.cards or promo.segment):
        raise fail((section, n), "a promotion is for everyone: put offers for some cards under [[offers]]")
    if section == "offers":
        if not promo.cards and not promo.segment:
            raise fail((section, n), "an offer needs `cards` or `segment`")
        if promo.id.isdigit():  # offer:<digits> names head office's campaigns (programme.campaign_offers)
            raise fail(
                (section, n, "id"),
                f"id {promo.id!r} is only digits, which name head office's campaigns: "
                "give the offer a name with a letter",
            )
        for card in promo.cards:
            try:
                validate_card_number(card)
            except CardNumberError as exc:
                raise fail((section, n, "cards"), f"expected loyalty card numbers: {exc}") from None


def version_in_force(versions: list[RuleSet], at: datetime) -> RuleSet | None:
    """The rules in force at a time: the latest effective_from not after it."""
    best = None
    for rules in versions:
        if rules.effective_from <= at and (
            best is None or (rules.effective_from, rules.version) > (best.effective_from, best.version)
        ):
            best = rules
    return best
