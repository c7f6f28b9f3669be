"""Returns: take back the points of returned lines, never more than they earned on the original ticket.

Prorating is cumulative and rounded down: returning q of a line's Q units after r already returned
reverses floor(P x (r + q) / Q) - floor(P x r / Q) of its P points, so the last unit takes the
remainder and returning units one by one or together reverses the same. Basket bonuses follow the
eligible spend returned, the same way. A return without its original reverses at the base rate.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from .errors import ReturnError
from .rules import RuleSet
from .ticket import Line, Ticket

NO_ORIGINAL = "no original ticket: reversed at the base rate"


@dataclass
class Reversal:
    """Points to reverse per original line (None: the basket), and why they may be approximate."""

    by_line: dict[int | None, int] = field(default_factory=dict)
    eligible_cents: int = 0  # qualifying spend returned, deducted from the tier spend
    flag: str = ""

    @property
    def points(self) -> int:
        return sum(self.by_line.values())


def _eligible(rules: RuleSet, line: Line) -> bool:
    return line.category not in rules.exclusions.categories and line.gtin not in rules.exclusions.articles


def _share(points: int, part: int, whole: int) -> int:
    return points * part // whole if whole > 0 else 0


def reverse_lines(rules: RuleSet, original: Ticket, picks: Mapping[int, int],
                  already: Mapping[int, int] | None = None) -> Reversal:
    """Points to take back for `picks` (0-based line -> quantity), after `already` returned quantities."""
    already = already or {}
    if not picks or not any(picks.values()):
        raise ReturnError(f"pick at least one line of {original.id} to return")
    earned: dict[int | None, int] = {}
    for entry in original.points:
        if entry.kind == "earn" and entry.points > 0:
            earned[entry.line] = earned.get(entry.line, 0) + entry.points
    result = Reversal()
    eligible_total = sum(li.total_cents for li in original.lines if li.total_cents > 0 and _eligible(rules, li))
    spend_before = spend_after = 0
    for index, line in enumerate(original.lines):
        before = already.get(index, 0)
        quantity = picks.get(index, 0)
        if index in picks and not 0 < quantity <= line.quantity - before:
            raise ReturnError(f"line {index + 1} of {original.id}: {line.quantity - before} left to return, "
                              f"{quantity} asked")
        if line.total_cents > 0 and _eligible(rules, line):
            spend_before += _share(line.total_cents, before, line.quantity)
            spend_after += _share(line.total_cents, before + quantity, line.quantity)
        if quantity:
            points = earned.get(index, 0)
            result.by_line[index] = (_share(points, before + quantity, line.quantity)
                                     - _share(points, before, line.quantity))
    for index in picks:
        if not 0 <= index < len(original.lines):
            raise ReturnError(f"ticket {original.id} has no line {index + 1}: it has {len(original.lines)} lines")
    basket = earned.get(None, 0)
    if basket:
        result.by_line[None] = (_share(basket, spend_after, eligible_total)
                                - _share(basket, spend_before, eligible_total))
    result.eligible_cents = spend_after - spend_before
    return result


def reverse_without_original(rules: RuleSet, lines: list[Line]) -> Reversal:
    """A return whose original ticket cannot be found: the base rate only, flagged for head office."""
    cents = sum(abs(li.total_cents) for li in lines if _eligible(rules, li))
    return Reversal(by_line={None: cents // rules.base.cents_per_point}, eligible_cents=cents, flag=NO_ORIGINAL)


def post_return(ledger, card: str, return_id: str, original_id: str | None, reversal: Reversal, at) -> list:
    """Ledger entries of a return, one per line, caused by `return:{return id}:{line}` (replay-safe)."""
    entries = []
    flags = (reversal.flag,) if reversal.flag else ()
    spend_left = reversal.eligible_cents
    for line, points in sorted(reversal.by_line.items(), key=lambda kv: (kv[0] is None, kv[0] or 0)):
        entries.append(ledger.reverse(card, points, f"return:{return_id}:{'basket' if line is None else line}", at,
                                      None, rule=f"return of {original_id or 'an unknown ticket'}",
                                      spend_cents=spend_left, flags=flags))
        spend_left = 0
    return entries
