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

Cents = int
Points = int
UtcTime = Annotated[datetime, msgspec.Meta(tz=True)]
TenderKind = Literal["cash", "bank_card", "points", "cheque", "voucher"]
EntryKind = Literal["earn", "redeem", "reverse", "adjust", "expire", "transfer"]


class Line(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    gtin: str
    label: str
    category: str
    quantity: int
    unit_cents: Cents
    discount_cents: Cents = 0
    total_cents: Cents = 0


class Tender(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    kind: TenderKind
    cents: Cents


class PointsEntry(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Points earned or redeemed on a ticket; `line` is the 0-based line index, or None for the ticket."""

    kind: EntryKind
    rule: str
    points: Points
    line: int | None = None


class ReturnLink(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """On a return ticket: its line `line` (0-based) takes back `quantity` units of line `original_line`
    (0-based) of ticket `original`, reversing `points` of what that ticket earned."""

    line: int
    original: str
    original_line: int
    quantity: int
    points: Points = 0


class Ticket(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    id: str
    terminal: str
    seq: int
    store: str
    cashier: str
    opened_at: UtcTime
    closed_at: UtcTime
    lines: list[Line]
    tenders: list[Tender]
    total_cents: Cents
    card: str | None
    points: list[PointsEntry]
    rules_version: str
    prev_hash: str = GENESIS_HASH
    signature: str | None = None
    # A return's links to its original; UNSET (left out of the JSON) on every other ticket, so a ticket
    # without returns encodes, hashes and signs exactly as before the field existed.
    returns: list[ReturnLink] | msgspec.UnsetType = msgspec.UNSET

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


def make_line(gtin: str, quantity: int, unit_cents: int, category: str = "grocery",
              label: str = "", discount_cents: int = 0) -> Line:
    """A line with its total computed, checked as validate_ticket would."""
    line = Line(gtin=gtin, label=label or f"article {gtin}", category=category, quantity=quantity,
                unit_cents=unit_cents, discount_cents=discount_cents,
                total_cents=quantity * unit_cents - discount_cents)
    _check_line(0, line)
    return line


def _check_line(index: int, line: Line) -> None:
    # Every synced line passes here: the checks come first, the message is built only for a wrong line.
    if (GTIN.match(line.gtin) and line.quantity != 0 and line.unit_cents >= 0 and line.discount_cents >= 0
            and line.total_cents == line.quantity * line.unit_cents - line.discount_cents):
        return
    where = f"line {index + 1} ({line.gtin})"
    if not GTIN.match(line.gtin):
        raise TicketError(f"{where}: a GTIN is 8, 12, 13 or 14 digits, got {line.gtin!r}")
    if line.quantity == 0:
        raise TicketError(f"{where}: quantity must not be 0")
    if line.unit_cents < 0:
        raise TicketError(f"{where}: unit price must not be negative, got {line.unit_cents} cents")
    if line.discount_cents < 0:
        raise TicketError(f"{where}: discount must not be negative, got {line.discount_cents} cents")
    expected = line.quantity * line.unit_cents - line.discount_cents
    raise TicketError(
        f"{where}: line total {line.total_cents} cents != quantity x unit price - discount = {expected}"
    )


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
    for entry in ticket.points:
        if entry.points < 0:
            raise TicketError(f"ticket {ticket.id}: points entries are positive, got {entry.points}")
        if entry.line is not None and not 0 <= entry.line < len(ticket.lines):
            raise TicketError(f"ticket {ticket.id}: points entry names line {entry.line}, which does not exist")
    if len(ticket.prev_hash) != 64:
        raise TicketError(f"ticket {ticket.id}: prev_hash must be 64 hex digits")
    if ticket.returns:
        _check_returns(ticket)
    return ticket


def _check_returns(ticket: Ticket) -> None:
    seen = set()
    for link in ticket.returns:
        where = f"ticket {ticket.id}: return link of line {link.line + 1}"
        if not 0 <= link.line < len(ticket.lines):
            raise TicketError(f"ticket {ticket.id}: a return link names line {link.line + 1}, which does not exist")
        if link.line in seen:
            raise TicketError(f"{where}: the line is linked twice")
        seen.add(link.line)
        if link.quantity <= 0:
            raise TicketError(f"{where}: quantity must be 1 or more, got {link.quantity}")
        if ticket.lines[link.line].quantity != -link.quantity:
            raise TicketError(f"{where}: returns {link.quantity} but the line's quantity is "
                              f"{ticket.lines[link.line].quantity} (a return line is negative)")
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
