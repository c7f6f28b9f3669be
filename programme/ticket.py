"""Tickets and their lines, tenders and points entries: the one shape shared by till, wire and server."""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timezone
from typing import Annotated, Literal

import msgspec

from .cardnumber import validate_card_number
from .errors import CardNumberError, TicketError

TERMINAL_ID = re.compile(r"^(S\d{3,5})-T\d{2,3}$")
GTIN = re.compile(r"^\d{8}$|^\d{12,14}$")
GENESIS_HASH = "0" * 64
MAX_LINES = 500

# Bounds of every number a ticket carries. The wire schema enforces them (a message past one is a
# dead letter with the field's path) and the till's own checks below refuse the same: no amount can
# reach a database column it would overflow (SQLite and PostgreSQL integers are 64-bit).
MAX_QUANTITY = 99_999  # units on one line, either sign (a return is negative)
MAX_UNIT_CENTS = 10_000_000  # 100,000.00 EUR for one unit
MAX_AMOUNT_CENTS = 100_000_000  # 1,000,000.00 EUR: a line, a discount, a tender, a ticket, either sign
MAX_ENTRY_POINTS = 10_000_000  # one points entry
MAX_SEQ = 2**53  # a till's sequence (JSON numbers stay exact below it)
MAX_VAT_RATE = 10_000  # a line's VAT rate in basis points (2000 = 20 %)
MAX_TEXT = 200  # labels, categories, rules, cashier and other free text

Cents = Annotated[int, msgspec.Meta(ge=-MAX_AMOUNT_CENTS, le=MAX_AMOUNT_CENTS)]
UnitCents = Annotated[int, msgspec.Meta(ge=0, le=MAX_UNIT_CENTS)]
DiscountCents = Annotated[int, msgspec.Meta(ge=0, le=MAX_AMOUNT_CENTS)]
Quantity = Annotated[int, msgspec.Meta(ge=-MAX_QUANTITY, le=MAX_QUANTITY)]
Points = Annotated[int, msgspec.Meta(ge=0, le=MAX_ENTRY_POINTS)]
LineIndex = Annotated[int, msgspec.Meta(ge=0, lt=MAX_LINES)]
VatRate = Annotated[int, msgspec.Meta(ge=0, le=MAX_VAT_RATE)]
Seq = Annotated[int, msgspec.Meta(le=MAX_SEQ)]
Text = Annotated[str, msgspec.Meta(max_length=MAX_TEXT)]
UtcTime = Annotated[datetime, msgspec.Meta(tz=True)]
TenderKind = Literal["cash", "bank_card", "points", "cheque", "voucher"]
EntryKind = Literal["earn", "redeem", "reverse", "adjust", "expire", "transfer"]
# What a till may put on a ticket. Adjustments, transfers and expiry are head office's (the desk, its
# jobs): a ticket carrying one is refused whole, so no till can mint points through them.
TILL_ENTRY_KINDS = ("earn", "redeem", "reverse")


class Line(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    gtin: Text
    label: Text
    category: Text
    quantity: Quantity
    unit_cents: UnitCents
    discount_cents: DiscountCents = 0
    total_cents: Cents = 0
    # The VAT rate the line was sold at, basis points (programme/vat.py). UNSET (left out of the JSON) on lines
    # from before it existed, so their tickets encode, hash and sign exactly as they did.
    vat_rate: VatRate | msgspec.UnsetType = msgspec.UNSET


class Tender(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """`serial`: a loyalty cheque's (kind "cheque": spent when positive, issued by a return when negative);
    UNSET (left out of the JSON) on every other tender, so those encode and sign as before it existed."""

    kind: TenderKind
    cents: Cents
    serial: Annotated[str, msgspec.Meta(max_length=32)] | msgspec.UnsetType = msgspec.UNSET


class PointsEntry(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Points earned or redeemed on a ticket; `line` is the 0-based line index, or None for the ticket."""

    kind: EntryKind
    rule: Text
    points: Points
    line: LineIndex | None = None


class ReturnLink(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """On a return ticket: its line `line` (0-based) takes back `quantity` units of line `original_line`
    (0-based) of ticket `original`, reversing `points` of what that ticket earned."""

    line: LineIndex
    original: Text
    original_line: LineIndex
    quantity: Quantity
    points: Points = 0


class Ticket(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    id: Text
    terminal: Text
    seq: Seq
    store: Text
    cashier: Text
    opened_at: UtcTime
    closed_at: UtcTime
    lines: Annotated[list[Line], msgspec.Meta(max_length=MAX_LINES)]
    tenders: Annotated[list[Tender], msgspec.Meta(max_length=MAX_LINES)]
    total_cents: Cents
    card: Text | None
    points: Annotated[list[PointsEntry], msgspec.Meta(max_length=4 * MAX_LINES)]
    rules_version: Text
    prev_hash: Text = GENESIS_HASH
    signature: Text | None = None
    # A return's links to its original; UNSET (left out of the JSON) on every other ticket, so a ticket
    # without returns encodes, hashes and signs exactly as before the field existed.
    returns: Annotated[list[ReturnLink], msgspec.Meta(max_length=MAX_LINES)] | msgspec.UnsetType = msgspec.UNSET

    @property
    def points_earned(self) -> int:
        return sum(e.points for e in self.points if e.kind == "earn")

    @property
    def points_redeemed(self) -> int:
        return sum(e.points for e in self.points if e.kind == "redeem")


DEBIT_KINDS = frozenset({"redeem", "reverse", "expire"})


def signed_points(entry: PointsEntry) -> int:
    """Ledger amount of an entry: what it takes from a balance is negative."""
    return -entry.points if entry.kind in DEBIT_KINDS else entry.points


def ticket_id(terminal: str, seq: int) -> str:
    return f"{terminal}-{seq:08d}"


def store_of(terminal: str) -> str:
    match = TERMINAL_ID.match(terminal)
    if not match:
        raise TicketError(f"terminal id {terminal!r} is not of the form S042-T07 (store, till)")
    return match.group(1)


def make_line(
    gtin: str,
    quantity: int,
    unit_cents: int,
    category: str = "grocery",
    label: str = "",
    discount_cents: int = 0,
    vat_rate: int | msgspec.UnsetType = msgspec.UNSET,
) -> Line:
    """A line with its total computed, checked as validate_ticket would."""
    line = Line(
        gtin=gtin,
        label=label or f"article {gtin}",
        category=category,
        quantity=quantity,
        unit_cents=unit_cents,
        discount_cents=discount_cents,
        total_cents=quantity * unit_cents - discount_cents,
        vat_rate=vat_rate,
    )
    _check_line(0, line)
    return line


def _check_line(index: int, line: Line) -> None:
    # Every synced line passes here: the checks come first, the message is built only for a wrong line.
    if (
        GTIN.match(line.gtin)
        and line.quantity != 0
        and abs(line.quantity) <= MAX_QUANTITY
        and 0 <= line.unit_cents <= MAX_UNIT_CENTS
        and 0 <= line.discount_cents <= MAX_AMOUNT_CENTS
        and abs(line.total_cents) <= MAX_AMOUNT_CENTS
        and (line.vat_rate is msgspec.UNSET or 0 <= line.vat_rate <= MAX_VAT_RATE)
        and line.total_cents == line.quantity * line.unit_cents - line.discount_cents
    ):
        return
    where = f"line {index + 1} ({line.gtin})"
    if not GTIN.match(line.gtin):
        raise TicketError(f"{where}: a GTIN is 8, 12, 13 or 14 digits, got {line.gtin!r}")
    if line.quantity == 0:
        raise TicketError(f"{where}: quantity must not be 0")
    if abs(line.quantity) > MAX_QUANTITY:
        raise TicketError(f"{where}: quantity {line.quantity} is past the limit of {MAX_QUANTITY} units a line")
    if line.unit_cents > MAX_UNIT_CENTS:
        raise TicketError(f"{where}: unit price {line.unit_cents} cents is past the limit of {MAX_UNIT_CENTS}")
    if line.discount_cents > MAX_AMOUNT_CENTS or abs(line.total_cents) > MAX_AMOUNT_CENTS:
        raise TicketError(f"{where}: amounts are limited to {MAX_AMOUNT_CENTS} cents a line")
    if line.unit_cents < 0:
        raise TicketError(f"{where}: unit price must not be negative, got {line.unit_cents} cents")
    if line.discount_cents < 0:
        raise TicketError(f"{where}: discount must not be negative, got {line.discount_cents} cents")
    if line.vat_rate is not msgspec.UNSET and not 0 <= line.vat_rate <= MAX_VAT_RATE:
        raise TicketError(f"{where}: VAT rate {line.vat_rate} is outside 0 to {MAX_VAT_RATE} basis points")
    expected = line.quantity * line.unit_cents - line.discount_cents
    raise TicketError(f"{where}: line total {line.total_cents} cents != quantity x unit price - discount = {expected}")


def validate_ticket(ticket: Ticket) -> Ticket:
    """Check what types alone cannot: ids, totals, card number, times. Raises TicketError."""
    store = store_of(ticket.terminal)
    if ticket.store != store:
        raise TicketError(f"ticket {ticket.id}: store {ticket.store!r} does not match terminal {ticket.terminal}")
    if ticket.seq < 1:
        raise TicketError(f"ticket {ticket.id}: sequence must be 1 or more, got {ticket.seq}")
    if ticket.id != ticket_id(ticket.terminal, ticket.seq):
        raise TicketError(f"ticket id {ticket.id!r} should be {ticket_id(ticket.terminal, ticket.seq)!r}")
    if not ticket.lines:
        raise TicketError(f"ticket {ticket.id}: a ticket needs at least one line")
    if len(ticket.lines) > MAX_LINES:
        raise TicketError(f"ticket {ticket.id}: {len(ticket.lines)} lines, at most {MAX_LINES}")
    for index, line in enumerate(ticket.lines):
        _check_line(index, line)
    total = sum(line.total_cents for line in ticket.lines)
    if abs(total) > MAX_AMOUNT_CENTS:
        raise TicketError(f"ticket {ticket.id}: total {total} cents is past the limit of {MAX_AMOUNT_CENTS}")
    if ticket.total_cents != total:
        raise TicketError(f"ticket {ticket.id}: total {ticket.total_cents} cents != sum of lines {total}")
    tendered = sum(t.cents for t in ticket.tenders)
    if tendered != total:
        raise TicketError(f"ticket {ticket.id}: tenders {tendered} cents != total {total}")
    if ticket.closed_at < ticket.opened_at:
        raise TicketError(f"ticket {ticket.id}: closed before it was opened")
    if ticket.card is not None:
        try:
            validate_card_number(ticket.card)
        except CardNumberError as exc:
            raise TicketError(f"ticket {ticket.id}: {exc}") from None
    elif ticket.points:
        raise TicketError(f"ticket {ticket.id}: points without a card")
    for number, entry in enumerate(ticket.points, start=1):
        if entry.kind not in TILL_ENTRY_KINDS:
            kinds = f"{', '.join(TILL_ENTRY_KINDS[:-1])} and {TILL_ENTRY_KINDS[-1]}"
            raise TicketError(
                f"ticket {ticket.id}: points entry {number} is of kind {entry.kind!r}; "
                f"a till sends only {kinds} entries"
            )
        if not 0 <= entry.points <= MAX_ENTRY_POINTS:
            raise TicketError(f"ticket {ticket.id}: points entries are 0 to {MAX_ENTRY_POINTS}, got {entry.points}")
        if entry.line is not None and not 0 <= entry.line < len(ticket.lines):
            raise TicketError(f"ticket {ticket.id}: points entry names line {entry.line}, which does not exist")
    if len(ticket.prev_hash) != 64:
        raise TicketError(f"ticket {ticket.id}: prev_hash must be 64 hex digits")
    if ticket.returns:
        _check_returns(ticket, ticket.returns)
    linked = {link.line for link in ticket.returns} if ticket.returns else ()
    for index, line in enumerate(ticket.lines):
        if line.quantity < 0 and index not in linked:
            raise TicketError(
                f"line {index + 1} ({line.gtin}): a negative quantity is a return: it needs a link "
                "to the original ticket's line (loyalty till return)"
            )
    return ticket


def _check_returns(ticket: Ticket, links: list[ReturnLink]) -> None:
    seen = set()
    for link in links:
        where = f"ticket {ticket.id}: return link of line {link.line + 1}"
        if not 0 <= link.line < len(ticket.lines):
            raise TicketError(f"ticket {ticket.id}: a return link names line {link.line + 1}, which does not exist")
        if link.line in seen:
            raise TicketError(f"{where}: the line is linked twice")
        seen.add(link.line)
        if link.quantity <= 0:
            raise TicketError(f"{where}: quantity must be 1 or more, got {link.quantity}")
        if ticket.lines[link.line].quantity != -link.quantity:
            raise TicketError(
                f"{where}: returns {link.quantity} but the line's quantity is "
                f"{ticket.lines[link.line].quantity} (a return line is negative)"
            )
        if link.original_line < 0 or link.points < 0:
            raise TicketError(f"{where}: original line and points must not be negative")
        if link.original == ticket.id:
            raise TicketError(f"{where}: a ticket cannot return its own lines")


_encoder = msgspec.json.Encoder()


def canonical_bytes(ticket: Ticket) -> bytes:
    """The bytes the chain hash is taken over: the ticket without its signature."""
    return _encoder.encode(ticket if ticket.signature is None else msgspec.structs.replace(ticket, signature=None))


def ticket_hash(ticket: Ticket) -> str:
    return hashlib.sha256(canonical_bytes(ticket)).hexdigest()


def utc_now() -> datetime:
    return datetime.now(timezone.utc)
