"""The points ledger: append-only entries with cause keys, balances, lots for expiry, tier status.

Nothing is updated or deleted; a correction is a new entry naming what it corrects (`ref`). An
entry whose cause is already in the ledger changes nothing, so replaying a ticket, a return or an
expiry run is harmless. Pure: the till and the server store the entries, this module does the maths.
"""

from __future__ import annotations

from bisect import bisect_right, insort
from collections import defaultdict
from itertools import accumulate
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

import msgspec

from .errors import LedgerError
from .rules import RuleSet, Tier
from .ticket import EntryKind

TIER_WINDOW = timedelta(days=365)


class Entry(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One ledger entry. `points` is signed: what it takes from the balance is negative."""

    card: str
    kind: EntryKind
    points: int
    cause: str
    at: datetime
    rule: str = ""
    ref: str | None = None  # the cause of the entry (lot) this one reverses, expires or corrects
    spend_cents: int = 0  # qualifying spend (earn: the ticket's eligible spend; returns: negative)
    flags: tuple[str, ...] = ()  # "overdraft", "short:N", "no original ticket"...
    # A credit that counts for expiry from another time than `at`: points moved between cards keep their lot's date
    lot_at: datetime | None = None


@dataclass
class Lot:
    cause: str
    at: datetime
    points: int
    left: int


class Ledger:
    """Entries of any number of cards, in posting order."""

    def __init__(self, entries: list[Entry] | tuple[Entry, ...] = ()):
        self._entries: list[Entry] = []
        self._by_cause: dict[str, Entry] = {}
        self._by_card: dict[str, list[Entry]] = defaultdict(list)
        for entry in entries:
            self.post(entry)

    # -- writing ---------------------------------------------------------------------------------
    def post(self, entry: Entry) -> bool:
        """Append an entry; False (and nothing changes) when its cause is already there with the same content."""
        existing = self._by_cause.get(entry.cause)
        if existing is not None:
            if existing != entry:
                raise LedgerError(
                    f"cause {entry.cause} is already in the ledger with other content: "
                    "a correction is a new entry with its own cause that names the one it corrects"
                )
            return False
        if entry.lot_at is not None and entry.points <= 0:
            raise LedgerError(f"only a credit has a lot date: entry {entry.cause} is {entry.points:+d} points")
        if (
            entry.kind in ("earn",)
            and entry.points < 0
            or entry.kind in ("redeem", "reverse", "expire")
            and entry.points > 0
        ):
            raise LedgerError(f"a {entry.kind} entry cannot be {entry.points:+d} points (cause {entry.cause})")
        self._entries.append(entry)
        self._by_cause[entry.cause] = entry
        self._by_card[entry.card].append(entry)
        return True

    def earn(self, card: str, points: int, cause: str, at: datetime, rule: str = "", spend_cents: int = 0) -> Entry:
        return self._post(Entry(card, "earn", points, cause, at, rule, spend_cents=spend_cents))

    def redeem(self, card: str, points: int, cause: str, at: datetime, *, offline: bool = False) -> Entry:
        """Take points; refused when the balance is short, unless the till was offline (then flagged)."""
        if cause in self._by_cause:
            return self._by_cause[cause]
        balance = self.balance(card)
        flags: tuple[str, ...] = ()
        if points > balance:
            if not offline:
                raise LedgerError(f"not enough points: the card has {balance} and {points} were asked")
            flags = ("overdraft",)
        return self._post(Entry(card, "redeem", -points, cause, at, "redeem", flags=flags))

    def reverse(
        self,
        card: str,
        points: int,
        cause: str,
        at: datetime,
        ref: str | None,
        rule: str = "",
        spend_cents: int = 0,
        flags: tuple[str, ...] = (),
    ) -> Entry:
        """Take back earned points: never more than `ref` earned and has not had reversed yet, nor the balance."""
        if cause in self._by_cause:
            return self._by_cause[cause]
        asked = points
        if ref is not None:
            earned = self._by_cause.get(ref)
            if earned is None or earned.card != card:
                raise LedgerError(f"reversal {cause} names {ref}, which is not an entry of card {card}")
            points = min(points, earned.points - self.reversed_of(ref))
        points = max(0, min(points, self.balance(card)))
        if points < asked:
            flags = (*flags, f"short:{asked - points}")
        return self._post(Entry(card, "reverse", -points, cause, at, rule, ref, -abs(spend_cents), flags))

    def adjust(self, card: str, points: int, cause: str, at: datetime, reason: str, ref: str | None = None) -> Entry:
        if cause in self._by_cause:
            return self._by_cause[cause]
        if points < 0 and -points > self.balance(card):
            raise LedgerError(
                f"an adjustment of {points} points would take card {card} below zero: "
                f"its balance is {self.balance(card)}"
            )
        return self._post(Entry(card, "adjust", points, cause, at, reason, ref))

    def transfer(self, source: str, target: str, points: int, cause: str, at: datetime) -> tuple[Entry, list[Entry]]:
        """Move points with their lots: out of the source's oldest lots, into the target as the same lots.

        One entry out (`{cause}:out`) and one in per lot moved (`{cause}:in:{n}`, lot_at the lot's date), all
        dated `at`: the move shows on the day it happened, the points still expire when they would have.
        """
        if f"{cause}:out" in self._by_cause:
            return self._by_cause[f"{cause}:out"], [
                e for e in self._by_card[target] if e.cause.startswith(f"{cause}:in:")
            ]
        if source == target:
            raise LedgerError(f"card {source} cannot move points to itself")
        if points > self.balance(source):
            raise LedgerError(f"card {source} has {self.balance(source)} points, {points} cannot be moved")
        moved = lots_to_move(self.lots(source), points)
        out = self._post(Entry(source, "transfer", -points, f"{cause}:out", at, f"to {target}"))
        into = [
            self._post(Entry(target, "transfer", n, f"{cause}:in:{i}", at, f"from {source}", lot_at=lot_at))
            for i, (lot_at, n) in enumerate(moved)
        ]
        return out, into

    def expire(self, rules: RuleSet, as_of: date, at: datetime | None = None) -> list[Entry]:
        """Expire what is left of every lot whose date has passed; idempotent (one cause per lot)."""
        at = at or datetime.combine(as_of, time(), timezone.utc)
        posted = []
        for card in sorted(self._by_card):
            for lot in self.lots(card):
                if lot.left > 0 and expires_on(rules, lot.at) <= as_of:
                    entry = Entry(
                        card,
                        "expire",
                        -lot.left,
                        f"expire:{card}:{lot.cause}",
                        at,
                        f"earned {lot.at.date()}, expired {expires_on(rules, lot.at)}",
                        lot.cause,
                    )
                    if self.post(entry):
                        posted.append(entry)
        return posted

    def _post(self, entry: Entry) -> Entry:
        self.post(entry)
        return self._by_cause[entry.cause]

    # -- reading ---------------------------------------------------------------------------------
    def entries(self, card: str | None = None) -> list[Entry]:
        return list(self._entries if card is None else self._by_card.get(card, ()))

    def has(self, cause: str) -> bool:
        return cause in self._by_cause

    def balance(self, card: str) -> int:
        return sum(e.points for e in self._by_card.get(card, ()))

    def reversed_of(self, ref: str) -> int:
        return -sum(e.points for e in self._entries if e.kind == "reverse" and e.ref == ref)

    def lots(self, card: str) -> list[Lot]:
        """Credits as lots, oldest first, with what is left after debits took from the oldest first."""
        lots: list[Lot] = []
        by_cause: dict[str, Lot] = {}
        debt = 0  # an overdraft is paid back by the next credits
        for entry in self._by_card.get(card, ()):
            if entry.points > 0:
                paid = min(debt, entry.points)
                debt -= paid
                lot = Lot(entry.cause, entry.lot_at or entry.at, entry.points, entry.points - paid)
                insort(lots, lot, key=lambda x: x.at)  # after equal times: they keep posting order
                by_cause[entry.cause] = lot
                continue
            need = -entry.points
            if entry.kind in ("reverse", "expire") and entry.ref in by_cause:
                first = by_cause[entry.ref]
                taken = min(first.left, need)
                first.left -= taken
                need -= taken
            for lot in lots:
                if need == 0:
                    break
                taken = min(lot.left, need)
                lot.left -= taken
                need -= taken
            debt += need
        return lots

    def spends(self, card: str) -> list[tuple[datetime, int]]:
        return [(e.at, e.spend_cents) for e in self._by_card.get(card, ()) if e.spend_cents]


def lots_to_move(lots: list[Lot], points: int) -> list[tuple[datetime, int]]:
    """(lot date, points) a debit of `points` takes, oldest lot first: what a transfer carries to the other card.

    The lots left always hold at least the balance, so within the balance every point has its lot.
    """
    moved, wanted = [], points
    for lot in lots:
        if points == 0:
            break
        taken = min(lot.left, points)
        if taken:
            moved.append((lot.at, taken))
            points -= taken
    if points:
        raise LedgerError(f"the lots hold {wanted - points} points, {wanted} cannot be moved")
    return moved


def ticket_cause(ticket_id: str, n: int) -> str:
    """The cause of a ticket's ledger entry: its N-th points entry. The one spelling of it: the till's
    journal, the server's store (one entry per kind and rule, named after the first) and the generator use it;
    the ledger's unique cause makes a ticket booked twice add nothing."""
    return f"ticket:{ticket_id}:{n}"


def post_ticket(ledger: Ledger, ticket, eligible_cents: int = 0) -> list[Entry]:
    """A ticket's earn and redeem entries posted to an in-memory ledger, one per points entry (as the till's
    journal books them; the server's store books one per kind and rule), each caused by ticket_cause()."""
    posted = []
    spend = eligible_cents
    for n, e in enumerate(ticket.points):
        if e.points == 0 or ticket.card is None:
            continue
        cause = ticket_cause(ticket.id, n)
        if e.kind == "earn":
            posted.append(ledger.earn(ticket.card, e.points, cause, ticket.closed_at, e.rule, spend))
            spend = 0
        elif e.kind == "redeem":
            posted.append(ledger.redeem(ticket.card, e.points, cause, ticket.closed_at, offline=True))
    return posted


def expires_on(rules: RuleSet, earned_at: datetime) -> date:
    """Points earned in year Y expire on the rules' month/day of Y + years_after."""
    expiry = rules.expiry
    return date(earned_at.year + expiry.years_after, expiry.month, expiry.day)


# -- tiers -----------------------------------------------------------------------------------------
def _tier_for(rules: RuleSet, spend: int) -> Tier | None:
    found = None
    for tier in rules.tiers:
        if spend >= tier.min_spend_cents:
            found = tier
    return found


def rolling_spend(spends: list[tuple[datetime, int]], at: datetime) -> int:
    """Qualifying spend over the 12 months (365 days) up to and including `at`."""
    return sum(cents for when, cents in spends if at - TIER_WINDOW < when <= at)


def last_review(rules: RuleSet, as_of: datetime) -> datetime:
    review = rules.tier_review
    this_year = datetime(as_of.year, review.month, review.day, tzinfo=timezone.utc)
    return this_year if this_year <= as_of else this_year.replace(year=as_of.year - 1)


def tier_status(rules: RuleSet, spends: list[tuple[datetime, int]], as_of: datetime) -> Tier | None:
    """The tier at `as_of`: the one the review gave, or higher if the spend reached it since (never lower).

    Tiers rise with spend (thresholds strictly rising, checked with the rules), so the tier is the
    one for the highest rolling spend at the review or at any spend since: O(n log n) with prefix sums.
    """
    ordered = sorted(spends, key=lambda s: s[0])
    times = [when for when, _ in ordered]
    prefix = [0, *accumulate(cents for _, cents in ordered)]

    def rolling(at: datetime) -> int:  # the same window as rolling_spend: (at - 12 months, at]
        return prefix[bisect_right(times, at)] - prefix[bisect_right(times, at - TIER_WINDOW)]

    review = last_review(rules, as_of)
    best = rolling(review)
    for when in times[bisect_right(times, review) : bisect_right(times, as_of)]:
        best = max(best, rolling(when))
    return _tier_for(rules, best)
