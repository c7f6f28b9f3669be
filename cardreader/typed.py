"""The fallback when there is no chip: a keyboard-wedge barcode scanner or the cashier types the 13 digits.

A wedge scanner "types" the digits then Enter, exactly like a person, so one parser serves both; the
caller says which it was. Same checks (check digit, prefix, hot-list) and same result type as a chip read.
"""

from __future__ import annotations

from collections.abc import Collection

from programme.cardnumber import DEFAULT_PREFIXES

from .identity import CardIdentity, Source, accept_number

# What wedge scanners put around the digits: CR/LF or TAB suffixes, sometimes an AIM symbology id (]E0 = EAN-13).
SYMBOLOGY_PREFIXES = ("]E0",)


def clean_scan(raw: str) -> str:
    text = raw.strip("\r\n\t ")
    for prefix in SYMBOLOGY_PREFIXES:
        if text.startswith(prefix):
            text = text[len(prefix) :]
    return text


def card_from_input(
    raw: str, source: Source = "typed", hotlist: Collection[str] = (), prefixes: tuple[str, ...] = DEFAULT_PREFIXES
) -> CardIdentity:
    """Validate a scanned or typed number; raises InvalidCardNumberError or BlockedCardError."""
    if source not in ("typed", "barcode"):
        raise ValueError(f"source must be 'typed' or 'barcode', got {source!r}")
    number = accept_number(clean_scan(raw), hotlist, prefixes)
    return CardIdentity(number=number, source=source, verified=False)
