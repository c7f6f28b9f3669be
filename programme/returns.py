"""Returns: take back the points of returned lines, never more than they earned on the original ticket.

Prorating is cumulative and rounded down: returning q of a line's Q units after r already returned
reverses floor(P x (r + q) / Q) - floor(P x r / Q) of its P points, so the last unit takes the
remainder and returning units one by one or together reverses the same. Basket bonuses follow the
eligible spend returned, the same way. A return without its original reverses at the base rate.
A return refunds to the original's tenders (`plan_refund`): its points part back as points, its loyalty
cheque part as a new cheque, the rest in cash, prorated the same cumulative way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from .errors import ReturnError
from .i18n import _, ngettext
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


def reverse_lines(
    rules: RuleSet, original: Ticket, picks: Mapping[int, int], already: Mapping[int, int] | None = None
) -> Reversal:
    """Points to take back for `picks` (0-based line -> quantity), after `already` returned quantities."""
    already = already or {}
    if not picks or not any(picks.values()):
        raise ReturnError(_("pick at least one line of {id} to return").format(id=original.id))
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
            raise ReturnError(
                _("line {number} of {id}: {left} left to return, {asked} asked").format(
                    number=index + 1, id=original.id, left=line.quantity - before, asked=quantity
                )
            )
        if line.total_cents > 0 and _eligible(rules, line):
            spend_before += _share(line.total_cents, before, line.quantity)
            spend_after += _share(line.total_cents, before + quantity, line.quantity)
        if quantity:
            points = earned.get(index, 0)
            result.by_line[index] = _share(points, before + quantity, line.quantity) - _share(
                points, before, line.quantity
            )
    for index in picks:
        if not 0 <= index < len(original.lines):
            raise ReturnError(
                ngettext(
                    "ticket {id} has no line {number}: it has {count} line",
                    "ticket {id} has no line {number}: it has {count} lines",
                    len(original.lines),
                ).format(id=original.id, number=index + 1, count=len(original.lines))
            )
    basket = earned.get(None, 0)
    if basket:
        result.by_line[None] = _share(basket, spend_after, eligible_total) - _share(
            basket, spend_before, eligible_total
        )
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
        entries.append(
            ledger.reverse(
                card,
                points,
                f"return:{return_id}:{'basket' if line is None else line}",
                at,
                None,
                rule=f"return of {original_id or 'an unknown ticket'}",
                spend_cents=spend_left,
                flags=flags,
            )
        )
        spend_left = 0
    return entries


POINTS_TENDER_RULE = "points tender"  # the redeem entry of points paid as a tender (terminal/sale.py)
REFUND_PREFIX = "refund: points tender of "  # the earn entry that gives a return's points part back


@dataclass(frozen=True)
class Refund:
    """How a return pays back: `points` to the card (worth `points_cents`), `cheque_cents` as a new loyalty
    cheque, the rest (`other_cents`) in cash or the tender the cashier chose."""

    points: int = 0
    points_cents: int = 0
    cheque_cents: int = 0
    other_cents: int = 0


def returned_value(original: Ticket, quantities: Mapping[int, int]) -> int:
    """What `quantities` (line -> units) of the ticket's lines were worth, each line prorated, rounded down."""
    return sum(
        _share(line.total_cents, quantities.get(n, 0), line.quantity)
        for n, line in enumerate(original.lines)
        if line.total_cents > 0
    )


def points_tendered(original: Ticket) -> int:
    """Points the ticket took from the card as a tender."""
    return sum(e.points for e in original.points if e.kind == "redeem" and e.rule == POINTS_TENDER_RULE)


def refund_rule(original_id: str) -> str:
    return f"{REFUND_PREFIX}{original_id}"


def plan_refund(
    original: Ticket, before: Mapping[int, int], picks: Mapping[int, int], refund_cents: int, cents_per_point: int
) -> Refund:
    """Split a refund of `refund_cents` over the original ticket's tenders, cumulatively prorated on the value
    returned (`before`: quantities returned earlier, `picks` now): every return of a ticket together gives back
    at most the points and the cheques it took; points are whole, what they cannot pay goes to the rest."""
    after = {n: before.get(n, 0) + picks.get(n, 0) for n in set(before) | set(picks)}
    total = sum(line.total_cents for line in original.lines if line.total_cents > 0)
    value_before, value_after = returned_value(original, before), returned_value(original, after)
    points_taken = points_tendered(original)
    cheques = sum(t.cents for t in original.tenders if t.kind == "cheque" and t.cents > 0)
    points = _share(points_taken, value_after, total) - _share(points_taken, value_before, total)
    points = min(points, refund_cents // max(cents_per_point, 1))
    points_cents = points * cents_per_point
    cheque = min(
        _share(cheques, value_after, total) - _share(cheques, value_before, total), refund_cents - points_cents
    )
    return Refund(points, points_cents, cheque, refund_cents - points_cents - cheque)
