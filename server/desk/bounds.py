"""Numbers, days and amounts from outside (a URL, a form, a query string), parsed and range-checked before
they reach a database or a date computation: one place, one message style ("X is out of range: give ...").

Every refusal is a desk_errors.InvalidInput: the pages answer 400 with the message, the API the same in JSON."""
from __future__ import annotations

import re
from datetime import date
from decimal import Decimal, InvalidOperation

from server.desk.errors import InvalidInput

MAX_ID = 2 ** 63 - 1  # the largest id either engine stores (SQLite INTEGER, PostgreSQL BIGINT)
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(2999, 12, 31)  # leaves room for a period's day before and after
MAX_EUROS = 1_000_000_000  # an amount filter, either way: beyond any ticket's total
MAX_PAGE = 100_000
MAX_DIGITS = 30  # longer is refused as text before int() reads it
_INTEGER = re.compile(rf"[+-]?[0-9]{{1,{MAX_DIGITS}}}")
_EUROS = re.compile(r"[+-]?[0-9]{1,15}([.,][0-9]{1,2})?")


def _shown(text: str) -> str:
    return text if len(text) <= MAX_DIGITS else text[:MAX_DIGITS] + "..."


def check_int(value: int, what: str, lo: int, hi: int) -> int:
    if not lo <= value <= hi:
        raise InvalidInput(f"{what} {_shown(str(value))} is out of range: give a number from {lo} to {hi}")
    return value


def parse_int(raw, what: str, lo: int, hi: int, default: int | None = None,
              expected: str = "a whole number") -> int:
    """A whole number from lo to hi; empty gives `default` (none: the field is required)."""
    text = str(raw if raw is not None else "").strip()
    if not text and default is not None:
        return default
    if not _INTEGER.fullmatch(text):
        raise InvalidInput(f"{what} {_shown(text)!r} is not {expected}")
    return check_int(int(text), what, lo, hi)


def parse_id(raw, what: str, default: int | None = None,
             expected: str = "a whole number") -> int:
    return parse_int(raw, what, 1, MAX_ID, default, expected)


def check_day(day: date, what: str) -> date:
    if not FIRST_DAY <= day <= LAST_DAY:
        raise InvalidInput(f"{what} {day.isoformat()} is out of range: give a day from {FIRST_DAY} to {LAST_DAY}")
    return day


def parse_day(raw, what: str, default: date | None = None, how: str = "use YYYY-MM-DD") -> date | None:
    """A day from FIRST_DAY to LAST_DAY; empty gives `default`."""
    text = str(raw if raw is not None else "").strip()
    if not text:
        return default
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"{what} {_shown(text)!r} is not a date: {how}") from None
    return check_day(day, what)


def parse_cents(raw, what: str, max_euros: int = MAX_EUROS) -> int | None:
    """Euros typed as 12.50 or 12,50 (negative allowed) to integer cents; empty gives None."""
    text = str(raw if raw is not None else "").strip()
    if not text:
        return None
    if not _EUROS.fullmatch(text):
        raise InvalidInput(f"{what} {_shown(text)!r} is not an amount: write euros like 12.50")
    try:
        cents = int(Decimal(text.replace(",", ".")) * 100)
    except InvalidOperation:  # pragma: no cover - the pattern admits only plain decimals
        raise InvalidInput(f"{what} {text!r} is not an amount: write euros like 12.50") from None
    if abs(cents) > max_euros * 100:
        raise InvalidInput(f"{what} {text} is out of range: at most {max_euros} euros either way")
    return cents
