"""The ledger's rule names as people read them: the names the code composes are shown in the reader's language.

A points entry's `rule` is stored as written (English words and ids: `base`, `tier:gold`, `loyalty cheque: 2 x
5.00 EUR`, `return of S001-T01-00000042 line 1`...); `rule_text` reads the composed ones back into their parts
and shows them through the catalog at display time, so old rows need nothing. A name head office wrote in its
rules (a tier's name, a promotion's id, a category) is data: it is shown as written inside the translated frame.
Anything else (a name this module does not know) is shown as stored.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from datetime import date

from .i18n import _, format_date, format_money, format_number, ngettext


def _cents(euros: str) -> int:
    units, _sep, rest = euros.partition(".")
    return int(units) * 100 + int((rest + "00")[:2])


def _cheque(m: re.Match[str], plain: bool) -> str:
    count = int(m["count"])
    return ngettext("loyalty cheque: {count} x {value}", "loyalty cheques: {count} x {value}", count).format(
        count=format_number(count, plain=plain), value=format_money(_cents(m["euros"]), plain=plain)
    )


def _points_per_euro(m: re.Match[str], plain: bool) -> str:
    points = int(m["points"])
    return ngettext("base: {points} point per euro", "base: {points} points per euro", points).format(
        points=format_number(points, plain=plain)
    )


def _expired(m: re.Match[str], plain: bool) -> str:
    return _("earned {earned}, expired {expired}").format(
        earned=format_date(date.fromisoformat(m["earned"])), expired=format_date(date.fromisoformat(m["expired"]))
    )


# (pattern of the stored name, what is shown): the first that matches the whole name wins.
NAMES: tuple[tuple[re.Pattern[str], Callable[[re.Match[str], bool], str]], ...] = tuple(
    (re.compile(pattern, re.S), show)
    for pattern, show in (
        (r"base", lambda m, plain: _("base points")),
        (r"base: (?P<points>\d+) points? per euro", _points_per_euro),
        (r"category:(?P<x>.+)", lambda m, plain: _("category {category}").format(category=m["x"])),
        (r"article:(?P<x>.+)", lambda m, plain: _("article {gtin}").format(gtin=m["x"])),
        (r"bonus:(?P<x>.+)", lambda m, plain: _("bonus on article {gtin}").format(gtin=m["x"])),
        (r"tier:(?P<x>.+)", lambda m, plain: _("{tier} tier").format(tier=m["x"])),
        (r"segment:(?P<x>.+)", lambda m, plain: _("segment {segment}").format(segment=m["x"])),
        (r"promotion:(?P<x>.+)", lambda m, plain: _("promotion {promotion}").format(promotion=m["x"])),
        (r"offer:(?P<x>\d+)", lambda m, plain: _("offer of campaign {campaign}").format(campaign=m["x"])),
        (r"points tender", lambda m, plain: _("points as a tender")),
        (
            r"refund: points tender of (?P<x>.+)",
            lambda m, plain: _("points tender of {ticket} given back").format(ticket=m["x"]),
        ),
        (
            r"return of (?P<x>\S+) line (?P<n>\d+)",
            lambda m, plain: _("return of {ticket} line {line}").format(ticket=m["x"], line=m["n"]),
        ),
        (r"return of an unknown ticket", lambda m, plain: _("return of an unknown ticket")),
        (r"return of (?P<x>\S+)", lambda m, plain: _("return of {ticket}").format(ticket=m["x"])),
        (r"loyalty cheque: (?P<count>\d+) x (?P<euros>\d+\.\d{2}) EUR", _cheque),
        (r"desk adjustment: (?P<x>.*)", lambda m, plain: _("desk adjustment: {reason}").format(reason=m["x"])),
        (
            r"transfer to (?P<card>\d+): (?P<x>.*)",
            lambda m, plain: _("transfer to card {card}: {reason}").format(card=m["card"], reason=m["x"]),
        ),
        (
            r"transfer from (?P<card>\d+): (?P<x>.*)",
            lambda m, plain: _("transfer from card {card}: {reason}").format(card=m["card"], reason=m["x"]),
        ),
        (r"earned (?P<earned>\d{4}-\d{2}-\d{2}), expired (?P<expired>\d{4}-\d{2}-\d{2})", _expired),
    )
)


def rule_text(rule: str | None, *, plain: bool = False) -> str:
    """A ledger entry's rule name in the reader's language (see the module's docstring); "" for none.
    `plain`: money and numbers with plain spaces, for paper."""
    if not rule:
        return ""
    for pattern, show in NAMES:
        found = pattern.fullmatch(rule)
        if found:
            return show(found, plain)
    return rule
