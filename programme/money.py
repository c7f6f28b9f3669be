"""Money is integer cents everywhere; these helpers only read and write it for people."""

import re

from .errors import MoneyError

_AMOUNT = re.compile(r"^(-)?(\d+)(?:[.,](\d{1,2}))?$")


def parse_euros(text: str) -> int:
    """Read "12.34", "12,3" or "12" as cents. Refuses anything with more than two decimals."""
    match = _AMOUNT.match(text.strip())
    if not match:
        raise MoneyError(f"{text!r} is not an amount in euros: write it like 12.34")
    sign, units, decimals = match.groups()
    cents = int(units) * 100 + int((decimals or "0").ljust(2, "0"))
    return -cents if sign else cents


def format_cents(cents: int) -> str:
    """1234 -> "12.34", -5 -> "-0.05"."""
    sign = "-" if cents < 0 else ""
    units, rest = divmod(abs(cents), 100)
    return f"{sign}{units}.{rest:02d}"
