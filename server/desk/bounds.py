"""Numbers, days and amounts from outside (a URL, a form, a query string), parsed and range-checked before
they reach a database or a date computation: one place, one message style ("X is out of range: give ...").

Every refusal is a desk_errors.InvalidInput: the pages answer 400 with the message, the API the same in JSON."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal, InvalidOperation

from programme.i18n import N_, _

from server.desk.errors import InvalidInput

MAX_ID = 2**63 - 1  # the largest id either engine stores (SQLite INTEGER, PostgreSQL BIGINT)
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(2999, 12, 31)  # leaves room for a period's day before and after
MAX_EUROS = 1_000_000_000  # an amount filter, either way: beyond any ticket's total
MAX_PAGE = 100_000
MAX_ADJUST = 100_000  # points a desk correction or transfer moves at most
MAX_DIGITS = 30  # longer is refused as text before int() reads it
_INTEGER = re.compile(rf"[+-]?[0-9]{{1,{MAX_DIGITS}}}")
_EUROS = re.compile(r"[+-]?[0-9]{1,15}([.,][0-9]{1,2})?")
# The field names and hints the pages pass as `what`, `expected` and `how`, listed so that the catalog carries
# their French (the API answers in English: the words come back as they are).
WORDS = (
    N_("start"),
    N_("end"),
    N_("starts"),
    N_("ends"),
    N_("page"),
    N_("min"),
    N_("max"),
    N_("customer"),
    N_("customer number"),
    N_("birth date"),
    N_("value"),
    N_("control percent"),
    N_("seed"),
    N_("campaign"),
    N_("dead letter"),
    N_("a whole number"),
    N_("use YYYY-MM-DD"),
    N_("write it as YYYY-MM-DD"),
    N_("a customer number: give the number from the desk"),
    N_("a number: type the other customer's number"),
    N_("give the segment's period as two dates (YYYY-MM-DD)"),
    N_("give the campaign's start and end days (YYYY-MM-DD)"),
)


def _shown(text: str) -> str:
    return text if len(text) <= MAX_DIGITS else text[:MAX_DIGITS] + "..."


def check_int(value: int, what: str, lo: int, hi: int) -> int:
    if not lo <= value <= hi:
        raise InvalidInput(
            _("{what} {value} is out of range: give a number from {lo} to {hi}").format(
                what=_(what), value=_shown(str(value)), lo=lo, hi=hi
            )
        )
    return value


def parse_int(raw, what: str, lo: int, hi: int, default: int | None = None, expected: str = "a whole number") -> int:
    """A whole number from lo to hi; empty gives `default` (none: the field is required)."""
    text = str(raw if raw is not None else "").strip()
    if not text and default is not None:
        return default
    if not _INTEGER.fullmatch(text):
        raise InvalidInput(
            _("{what} {value!r} is not {expected}").format(what=_(what), value=_shown(text), expected=_(expected))
        )
    return check_int(int(text), what, lo, hi)


def parse_id(raw, what: str, default: int | None = None, expected: str = "a whole number") -> int:
    return parse_int(raw, what, 1, MAX_ID, default, expected)


def check_day(day: date, what: str) -> date:
    if not FIRST_DAY <= day <= LAST_DAY:
        raise InvalidInput(
            _("{what} {day} is out of range: give a day from {first} to {last}").format(
                what=_(what), day=day.isoformat(), first=FIRST_DAY, last=LAST_DAY
            )
        )
    return day


def parse_day(raw, what: str, default: date | None = None, how: str = "use YYYY-MM-DD") -> date | None:
    """A day from FIRST_DAY to LAST_DAY; empty gives `default`."""
    text = str(raw if raw is not None else "").strip()
    if not text:
        return default
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(
            _("{what} {value!r} is not a date: {how}").format(what=_(what), value=_shown(text), how=_(how))
        ) from None
    return check_day(day, what)


def parse_cents(raw, what: str, max_euros: int = MAX_EUROS) -> int | None:
    """Euros typed as 12.50 or 12,50 (negative allowed) to integer cents; empty gives None."""
    text = str(raw if raw is not None else "").strip()
    if not text:
        return None
    if not _EUROS.fullmatch(text):
        raise InvalidInput(
            _("{what} {value!r} is not an amount: write euros like 12.50").format(what=_(what), value=_shown(text))
        )
    try:
        cents = int(Decimal(text.replace(",", ".")) * 100)
    except InvalidOperation:  # pragma: no cover - the pattern admits only plain decimals
        raise InvalidInput(
            _("{what} {value!r} is not an amount: write euros like 12.50").format(what=_(what), value=text)
        ) from None
    if abs(cents) > max_euros * 100:
        raise InvalidInput(
            _("{what} {value} is out of range: at most {most} euros either way").format(
                what=_(what), value=text, most=max_euros
            )
        )
    return cents


def points_change(value) -> int:
    """Points a card manager typed for a correction or a transfer: a whole number, not 0, within MAX_ADJUST."""
    try:
        points = int(str(value).strip())
    except ValueError:
        raise InvalidInput(
            _("points {value!r} is not a whole number: type e.g. 50 or -20").format(value=value)
        ) from None
    if points == 0:
        raise InvalidInput(_("an adjustment of 0 points changes nothing: type a positive or negative number"))
    if abs(points) > MAX_ADJUST:
        raise InvalidInput(
            _("an adjustment is at most {count} points either way: ask head office").format(count=MAX_ADJUST)
        )
    return points
