"""What a card read gives the till, whatever the source (chip, barcode, typed), and the checks all sources share."""

from __future__ import annotations

from collections.abc import Collection
from typing import Literal

import msgspec

from programme.cardnumber import DEFAULT_PREFIXES, validate_card_number
from programme.errors import CardNumberError

from .errors import BlockedCardError, InvalidCardNumberError

Source = Literal["chip", "barcode", "typed"]


class CardIdentity(msgspec.Struct, frozen=True):
    """A card number the till may use. `verified` is true only when the issuer's signature checked out."""

    number: str
    source: Source
    issued: str | None = None  # ISO date, chip cards only
    generation: int | None = None
    verified: bool = False

    def to_dict(self) -> dict:
        return msgspec.to_builtins(self)


def accept_number(number: str, hotlist: Collection[str] = (), prefixes: tuple[str, ...] = DEFAULT_PREFIXES) -> str:
    """Check digit, prefix, length, then the hot-list: the checks every source passes. Returns the clean number."""
    try:
        cleaned = validate_card_number(number, prefixes)
    except CardNumberError as exc:
        raise InvalidCardNumberError(str(exc)) from None
    if cleaned in hotlist:
        raise BlockedCardError(cleaned)
    return cleaned


def load_hotlist(path: str | None) -> frozenset[str]:
    """A hot-list file: one card number a line; blank lines and # comments ignored."""
    if not path:
        return frozenset()
    with open(path, encoding="utf-8") as f:
        return frozenset(line.split("#", 1)[0].strip() for line in f if line.split("#", 1)[0].strip())
