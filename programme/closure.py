"""Daily, monthly and yearly closures of a till, in NF525's spirit: period totals with VAT per rate,
perpetual grand totals (since the till's first ticket, never reset), the period's journal events with
their own totals, each closure signed by the till and naming the hash of the previous closure of its kind.

Periods are the store's local days ("2026-11-23"), months ("2026-11") and years ("2026"), in
Europe/Paris time (STORE_ZONE), of the tickets' closed_at. A closure covers, in sequence order, every
ticket after the previous closure of its kind up to the last one closed (by its closed_at) before the
period's end, so each ticket is counted exactly once in each chain even when a till's clock jumps. The
journal's events (chains `events` and `training`) are taken the same way, each chain after the last event
the previous closure counted (`last_events`), so an event journaled after a period was closed (a reprint
in the evening, an archiving) counts in the next closure.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable, Sequence
from datetime import date, datetime, time, timezone
from typing import Literal
from zoneinfo import ZoneInfo

import msgspec
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .vat import UNRECORDED_RATE, line_rate, tax_of, taxed_rate
from .errors import ProgrammeError
from .journal_event import CHAINS, EventTotals, JournalEvent, event_totals
from .signing import SignatureError
from .ticket import GENESIS_HASH, Ticket, UtcTime

Kind = Literal["day", "month", "year"]
KINDS: tuple[Kind, ...] = ("day", "month", "year")
DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MONTH = re.compile(r"^\d{4}-\d{2}$")
YEAR = re.compile(r"^\d{4}$")
STORE_ZONE = ZoneInfo("Europe/Paris")  # closures follow the store's day, not UTC's
STANDARD_VAT_RATE = UNRECORDED_RATE  # basis points: 20 %, the rate of a line that carries none (programme.vat)


class ClosureError(ProgrammeError):
    """A closure cannot be made or does not hold (period, sequence range, chain or totals)."""


class Vat(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One VAT rate's amounts: TTC (tax included, what the lines sum to), its tax and HT (TTC - tax)."""

    ttc_cents: int = 0
    tva_cents: int = 0
    ht_cents: int = 0


def vat_per_rate(amounts: Iterable[tuple[int, int | None]]) -> dict[str, Vat]:
    """VAT per rate of (amount_cents TTC, vat_rate in basis points) pairs; a missing rate (None) is taken
    as the standard 20 % (programme.vat.taxed_rate, as receipts and statements). Each rate's tax is taken once
    from its TTC total. Keys: the rate, "2000", "550"..."""
    ttc: dict[int, int] = {}
    for cents, rate in amounts:
        taxed = taxed_rate(rate)
        ttc[taxed] = ttc.get(taxed, 0) + cents
    out = {}
    for rate in sorted(ttc, reverse=True):
        tax = tax_of(ttc[rate], rate)  # the receipt's rounding, from programme.vat: one computation
        out[str(rate)] = Vat(ttc_cents=ttc[rate], tva_cents=tax, ht_cents=ttc[rate] - tax)
    return out


def _add_vat(a: dict[str, Vat], b: dict[str, Vat]) -> dict[str, Vat]:
    out = dict(a)
    for rate, v in b.items():
        old = out.get(rate, Vat())
        out[rate] = Vat(
            ttc_cents=old.ttc_cents + v.ttc_cents,
            tva_cents=old.tva_cents + v.tva_cents,
            ht_cents=old.ht_cents + v.ht_cents,
        )
    return dict(sorted(out.items(), key=lambda item: -int(item[0])))


class Totals(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Sums over tickets. Sales are positive line totals, returns the negative ones (as a positive sum).
    `vat`: per rate over the net of the lines; UNSET (left out) in closures made before it was counted,
    so they encode, hash and check as they were signed."""

    tickets: int = 0
    sales_cents: int = 0
    returns_cents: int = 0
    tenders: dict[str, int] = {}
    points_earned: int = 0
    points_redeemed: int = 0
    points_reversed: int = 0
    vat: dict[str, Vat] | msgspec.UnsetType = msgspec.UNSET

    @property
    def net_cents(self) -> int:
        return self.sales_cents - self.returns_cents

    def plus(self, other: Totals) -> Totals:
        tenders = dict(self.tenders)
        for kind, cents in other.tenders.items():
            tenders[kind] = tenders.get(kind, 0) + cents
        vat: dict[str, Vat] | msgspec.UnsetType = msgspec.UNSET
        if self.vat is not msgspec.UNSET or other.vat is not msgspec.UNSET:
            vat = _add_vat(self.vat or {}, other.vat or {})
        return Totals(
            tickets=self.tickets + other.tickets,
            sales_cents=self.sales_cents + other.sales_cents,
            returns_cents=self.returns_cents + other.returns_cents,
            tenders=dict(sorted(tenders.items())),
            points_earned=self.points_earned + other.points_earned,
            points_redeemed=self.points_redeemed + other.points_redeemed,
            points_reversed=self.points_reversed + other.points_reversed,
            vat=vat,
        )


class Closure(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    terminal: str
    kind: Kind
    period: str
    number: int  # 1, 2, 3... in this till's chain of closures of this kind
    closed_at: UtcTime
    first_seq: int
    last_seq: int  # first_seq - 1 when the period had no ticket
    period_totals: Totals
    grand_totals: Totals  # the perpetual total: since the till's first ticket, never reset
    prev_hash: str = GENESIS_HASH
    signature: str | None = None
    # The period's journal events (voids, cancellations, reprints, training, archivings); UNSET in closures
    # made before events were journaled.
    events: EventTotals | msgspec.UnsetType = msgspec.UNSET
    last_events: dict[str, int] | msgspec.UnsetType = msgspec.UNSET  # per chain, the last event counted


def totals_of(tickets: Iterable[Ticket]) -> Totals:
    count = sales = returns = earned = redeemed = reversed_ = 0
    tenders: dict[str, int] = {}
    amounts: list[tuple[int, int | None]] = []
    for ticket in tickets:
        count += 1
        amounts += [(line.total_cents, line_rate(line)) for line in ticket.lines]
        for line in ticket.lines:
            if line.total_cents >= 0:
                sales += line.total_cents
            else:
                returns -= line.total_cents
        for tender in ticket.tenders:
            tenders[tender.kind] = tenders.get(tender.kind, 0) + tender.cents
        for entry in ticket.points:
            if entry.kind == "earn":
                earned += entry.points
            elif entry.kind == "redeem":
                redeemed += entry.points
            elif entry.kind == "reverse":
                reversed_ += entry.points
    return Totals(
        tickets=count,
        sales_cents=sales,
        returns_cents=returns,
        tenders=dict(sorted(tenders.items())),
        points_earned=earned,
        points_redeemed=redeemed,
        points_reversed=reversed_,
        vat=vat_per_rate(amounts),
    )


def kind_of(period: str) -> Kind:
    if DAY.match(period):
        return "day"
    if MONTH.match(period):
        return "month"
    if YEAR.match(period):
        return "year"
    raise ClosureError(f"period {period!r} is neither a day (2026-11-23), a month (2026-11) nor a year (2026)")


def local_start(day: date) -> datetime:
    """The UTC instant the store's local day `day` begins."""
    return datetime.combine(day, time(0), STORE_ZONE).astimezone(timezone.utc)


def period_bounds(period: str) -> tuple[datetime, datetime]:
    """The UTC start (included) and end (excluded) of a store's local day, month or year."""
    kind = kind_of(period)
    try:
        if kind == "day":
            first = datetime.strptime(period, "%Y-%m-%d").date()
            after = date.fromordinal(first.toordinal() + 1)
        elif kind == "month":
            first = datetime.strptime(period, "%Y-%m").date()
            after = first.replace(year=first.year + first.month // 12, month=first.month % 12 + 1)
        else:
            first = date(int(period), 1, 1)
            after = date(first.year + 1, 1, 1)
    except ValueError:
        raise ClosureError(f"period {period!r} is not a real date: e.g. 2026-11-23, 2026-11 or 2026") from None
    return local_start(first), local_start(after)


FORMATS = {"day": "%Y-%m-%d", "month": "%Y-%m", "year": "%Y"}


def period_of(at: datetime, kind: Kind) -> str:
    """The store's local day, month or year of an instant."""
    return at.astimezone(STORE_ZONE).strftime(FORMATS[kind])


def select_events(
    events: Sequence[JournalEvent], period: str, previous: Closure | None
) -> tuple[list[JournalEvent], dict[str, int]]:
    """The journal events a closure of `period` counts, and the last one of each chain: in each chain, those
    after the previous closure's last, up to the last one that happened before the period's end."""
    _, end = period_bounds(period)
    before = previous.last_events if previous is not None and previous.last_events is not msgspec.UNSET else {}
    chosen: list[JournalEvent] = []
    last: dict[str, int] = {}
    for chain in CHAINS:
        after = sorted((e for e in events if e.chain == chain and e.seq > before.get(chain, 0)), key=lambda e: e.seq)
        upto = max((i for i, e in enumerate(after) if e.at < end), default=-1)
        chosen += after[: upto + 1]
        last[chain] = after[upto].seq if upto >= 0 else before.get(chain, 0)
    return chosen, last


def select_period(after: Sequence[Ticket], period: str) -> list[Ticket]:
    """Of the tickets after the previous closure (in sequence order), those this period closes:
    up to the last one closed before the period's end (later tickets in between come along)."""
    _, end = period_bounds(period)
    last = -1
    for index, ticket in enumerate(after):
        if ticket.closed_at < end:
            last = index
    return list(after[: last + 1])


def _check_sequence(tickets: Sequence[Ticket], terminal: str, first_seq: int) -> None:
    for expected, ticket in enumerate(tickets, start=first_seq):
        if ticket.terminal != terminal:
            raise ClosureError(f"ticket {ticket.id} is not of till {terminal}")
        if ticket.seq != expected:
            raise ClosureError(
                f"{terminal}: ticket {expected} is missing before {ticket.id}; "
                "a closure covers an unbroken run of tickets"
            )


def make_closure(
    terminal: str,
    period: str,
    tickets: Sequence[Ticket],
    previous: Closure | None,
    closed_at: datetime,
    events: Sequence[JournalEvent] | None = None,
) -> Closure:
    """The closure of `period` over `tickets` (the run right after `previous`, same kind), unsigned.
    `events`: the till's journal events (those within the period are counted)."""
    kind = kind_of(period)
    start, _ = period_bounds(period)
    if previous is not None:
        if previous.kind != kind or previous.terminal != terminal:
            raise ClosureError(
                f"the previous closure is a {previous.kind} closure of {previous.terminal}, "
                f"not a {kind} closure of {terminal}"
            )
        if previous.period >= period:
            raise ClosureError(
                f"{terminal}: {kind} {previous.period} is closed already, so {period} cannot be "
                "closed now (closures go forward, once per period)"
            )
    if closed_at < start:
        raise ClosureError(f"{kind} {period} has not begun yet: it cannot be closed before {start.isoformat()}")
    first_seq = previous.last_seq + 1 if previous else 1
    _check_sequence(tickets, terminal, first_seq)
    for ticket in tickets:
        own = period_of(ticket.closed_at, kind)
        if own < period and (previous is None or own > previous.period):
            raise ClosureError(
                f"{kind} {own} has tickets and is not closed (first: {ticket.id}): close it before {period}"
            )
    period_totals = totals_of(tickets)
    grand = previous.grand_totals.plus(period_totals) if previous else period_totals
    counted, last_events = select_events(events or (), period, previous)
    return Closure(
        terminal=terminal,
        kind=kind,
        period=period,
        number=previous.number + 1 if previous else 1,
        closed_at=closed_at,
        first_seq=first_seq,
        last_seq=first_seq + len(tickets) - 1,
        period_totals=period_totals,
        grand_totals=grand,
        prev_hash=closure_hash(previous) if previous else GENESIS_HASH,
        events=msgspec.UNSET if events is None else event_totals(counted),
        last_events=msgspec.UNSET if events is None else last_events,
    )


def check_closure(
    closure: Closure, tickets: Sequence[Ticket], previous: Closure | None, events: Sequence[JournalEvent] | None = None
) -> None:
    """Raise ClosureError naming the first thing that does not hold against these tickets and predecessor
    (and the till's journal events, when given and the closure counts them)."""
    check_link(closure, previous)
    found = {t.seq for t in tickets}
    missing = [seq for seq in range(closure.first_seq, closure.last_seq + 1) if seq not in found]
    if missing:
        shown = ", ".join(map(str, missing[:10])) + (" ..." if len(missing) > 10 else "")
        raise ClosureError(
            f"{closure.kind} closure {closure.number} of {closure.terminal}: "
            f"{len(missing)} ticket(s) of its range are missing: seq {shown}"
        )
    run = sorted((t for t in tickets if closure.first_seq <= t.seq <= closure.last_seq), key=lambda t: t.seq)
    _compare("period totals", closure, closure.period_totals, totals_of(run))
    grand = previous.grand_totals.plus(closure.period_totals) if previous else closure.period_totals
    _compare("grand totals", closure, closure.grand_totals, grand)
    if events is not None and closure.events is not msgspec.UNSET and closure.last_events is not msgspec.UNSET:
        before = previous.last_events if previous is not None and previous.last_events is not msgspec.UNSET else {}
        counted = event_totals(
            [e for e in events if before.get(e.chain, 0) < e.seq <= closure.last_events.get(e.chain, 0)]
        )
        for field in EventTotals.__struct_fields__:
            a, b = getattr(closure.events, field), getattr(counted, field)
            if a != b:
                raise ClosureError(
                    f"{closure.kind} closure {closure.number} of {closure.terminal} "
                    f"({closure.period}): events {field} {a} in the closure, {b} in the journal"
                )


def check_link(closure: Closure, previous: Closure | None) -> None:
    """The chain alone: the previous closure is there, hashes to what this one names, ends where it starts."""
    expected_prev = closure_hash(previous) if previous else GENESIS_HASH
    if closure.number > 1 and previous is None:
        raise ClosureError(
            f"{closure.kind} closure {closure.number} of {closure.terminal}: "
            f"the previous closure ({closure.number - 1}) is missing"
        )
    if previous is not None and previous.number != closure.number - 1:
        raise ClosureError(
            f"{closure.kind} closure {closure.number} of {closure.terminal} follows closure "
            f"{previous.number}: closure {closure.number - 1} is missing"
        )
    if closure.prev_hash != expected_prev:
        raise ClosureError(
            f"{closure.kind} closure {closure.number} of {closure.terminal}: the chain is broken "
            f"(it names {closure.prev_hash[:12]}..., "
            f"the previous closure hashes to {expected_prev[:12]}...)"
        )
    first = previous.last_seq + 1 if previous else 1
    if closure.first_seq != first:
        raise ClosureError(
            f"{closure.kind} closure {closure.number} of {closure.terminal} starts at ticket "
            f"{closure.first_seq}, not {first} right after the previous closure"
        )


def _compare(what: str, closure: Closure, stated: Totals, computed: Totals) -> None:
    for field in Totals.__struct_fields__:
        a, b = getattr(stated, field), getattr(computed, field)
        if field == "vat" and a is msgspec.UNSET:
            continue  # a closure made before VAT was counted
        if a != b:
            raise ClosureError(
                f"{closure.kind} closure {closure.number} of {closure.terminal} ({closure.period}): "
                f"{what} {field} {a} in the closure, {b} from the tickets"
            )


_encoder = msgspec.json.Encoder(order="deterministic")
_decoder = msgspec.json.Decoder(Closure)


def canonical_bytes(closure: Closure) -> bytes:
    """What is signed and hashed: the closure without its signature."""
    return _encoder.encode(msgspec.structs.replace(closure, signature=None))


def closure_hash(closure: Closure) -> str:
    return hashlib.sha256(canonical_bytes(closure)).hexdigest()


def encode_closure(closure: Closure) -> bytes:
    return _encoder.encode(closure)


def decode_closure(payload: bytes | str) -> Closure:
    try:
        return _decoder.decode(payload)
    except msgspec.ValidationError as exc:
        raise ClosureError(f"not a closure: {exc}") from None
    except msgspec.DecodeError as exc:
        raise ClosureError(f"not a closure (unreadable JSON): {exc}") from None


def sign_closure(closure: Closure, key: Ed25519PrivateKey) -> Closure:
    return msgspec.structs.replace(closure, signature=base64.b64encode(key.sign(canonical_bytes(closure))).decode())


def verify_closure(closure: Closure, public_key: Ed25519PublicKey) -> None:
    """Raise SignatureError unless the closure carries a valid signature of that key."""
    name = f"{closure.kind} closure {closure.number} of {closure.terminal} ({closure.period})"
    if not closure.signature:
        raise SignatureError(f"{name} is not signed")
    try:
        public_key.verify(base64.b64decode(closure.signature), canonical_bytes(closure))
    except (InvalidSignature, ValueError):
        raise SignatureError(
            f"{name}: the signature does not match its content "
            "(altered after the till signed it, or signed by another key)"
        ) from None


def verify_chain(
    closures: Sequence[Closure],
    tickets: Sequence[Ticket],
    public_key: Ed25519PublicKey | None,
    anchored: bool = False,
    events: Sequence[JournalEvent] | None = None,
) -> list[str]:
    """Every problem in a till's closures (both kinds) against its tickets: signatures, links, totals.

    A closure whose tickets are not all given is checked for signature and link only. `anchored`:
    the first closure of each kind is taken as the starting point (an archive carries the closure
    before its period so that the next one's link and grand totals can be checked).
    """
    by_seq = {t.seq: t for t in tickets}
    problems: list[str] = []
    for kind in KINDS:
        chain = sorted((c for c in closures if c.kind == kind), key=lambda c: c.number)
        previous = None
        for index, closure in enumerate(chain):
            if public_key is not None:
                try:
                    verify_closure(closure, public_key)
                except SignatureError as exc:
                    problems.append(str(exc))
            run = [by_seq[s] for s in range(closure.first_seq, closure.last_seq + 1) if s in by_seq]
            try:
                if anchored and index == 0:
                    pass
                elif len(run) == closure.last_seq - closure.first_seq + 1:
                    check_closure(closure, run, previous, events)
                else:
                    check_link(closure, previous)
            except ClosureError as exc:
                problems.append(str(exc))
            previous = closure
    return problems
