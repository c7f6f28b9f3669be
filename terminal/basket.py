"""The basket being sold: lines scanned or typed, voids, tenders, what is still due. Pure logic.

Nothing here writes anywhere; `terminal.till.TillSession` closes a finished basket in the journal.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import msgspec

from programme.errors import ProgrammeError
from programme.i18n import _, format_money
from programme.money import parse_euros
from programme.redemption import TenderPlan
from programme.ticket import Line, PointsEntry, Tender, make_line

from .errors import BasketError

TENDER_KINDS = ("cash", "bank_card", "points", "cheque")
# What the cashier types or the scanner sends: [QTY*]GTIN[@PRICE], e.g. 3*3017620422003 or 3017620422003@1.99
_SCAN = re.compile(r"^\s*(?:(\d+)\s*[*xX]\s*)?(\d{8}|\d{12,14})\s*(?:@\s*(\d+(?:[.,]\d{1,2})?))?\s*$")


@dataclass(frozen=True)
class Scan:
    gtin: str
    quantity: int
    unit_cents: int | None


def parse_scan(text: str) -> Scan:
    match = _SCAN.match(text)
    if not match:
        raise BasketError(
            _("{text!r} is not an article: scan the barcode, or type GTIN, 3*GTIN or GTIN@1.99").format(text=text)
        )
    qty, gtin, price = match.groups()
    quantity = int(qty) if qty else 1
    if quantity == 0:
        raise BasketError(_("quantity 0: type the quantity before the GTIN, e.g. 3*3017620422003"))
    return Scan(gtin, quantity, parse_euros(price) if price else None)


@dataclass
class Basket:
    catalogue: Mapping[str, object] = field(default_factory=dict)  # gtin -> Article (label, category, unit_cents)
    lines: list[Line] = field(default_factory=list)
    tenders: list[Tender] = field(default_factory=list)
    card: str | None = None
    redeemed_points: int = 0
    change_cents: int = 0
    cheques: list[PointsEntry] = field(default_factory=list)  # loyalty cheques issued on this ticket
    reservations: list[str] = field(default_factory=list)  # ids of the points head office holds for this ticket

    # -- lines -------------------------------------------------------------------------------
    def add(self, gtin: str, quantity: int = 1, unit_cents: int | None = None) -> Line:
        if self.tenders:
            raise BasketError(_("payment has started: finish paying, or cancel the ticket to change it"))
        article = self.catalogue.get(gtin)
        # The line keeps the VAT rate it is sold at: the article's, else the catalogue's default for a typed price
        # (a catalogue without rates, such as the simulator's, leaves it out).
        vat = getattr(article, "vat_rate", getattr(self.catalogue, "default_vat_rate", msgspec.UNSET))
        try:
            if unit_cents is not None:
                line = make_line(
                    gtin,
                    quantity,
                    unit_cents,
                    getattr(article, "category", "grocery"),
                    getattr(article, "label", ""),
                    vat_rate=vat,
                )
            elif article is not None:
                line = make_line(gtin, quantity, article.unit_cents, article.category, article.label, vat_rate=vat)
            else:
                raise BasketError(
                    _("article {gtin} is not in the catalogue: type its price as {gtin}@1.99").format(gtin=gtin)
                )
        except ProgrammeError as exc:
            raise BasketError(str(exc)) from None
        self.lines.append(line)
        return line

    def scan(self, text: str) -> Line:
        scan = parse_scan(text)
        return self.add(scan.gtin, scan.quantity, scan.unit_cents)

    def void(self, index: int | None = None) -> Line:
        """Remove a line (the last one by default) before payment starts."""
        if not self.lines:
            raise BasketError(_("no line to void: the basket is empty"))
        if self.tenders:
            raise BasketError(_("payment has started: cancel the ticket to void a line"))
        index = len(self.lines) - 1 if index is None else index
        if not 0 <= index < len(self.lines):
            raise BasketError(
                _("no line {number}: the basket has {count} lines").format(number=index + 1, count=len(self.lines))
            )
        return self.lines.pop(index)

    def cancel(self) -> None:
        self.lines.clear()
        self.tenders.clear()
        self.card = None
        self.redeemed_points = 0
        self.change_cents = 0
        self.cheques.clear()
        self.reservations.clear()

    # -- totals and tenders ----------------------------------------------------------------------
    @property
    def total_cents(self) -> int:
        return sum(line.total_cents for line in self.lines)

    @property
    def item_count(self) -> int:
        return sum(line.quantity for line in self.lines)

    @property
    def paid_cents(self) -> int:
        return sum(t.cents for t in self.tenders)

    @property
    def due_cents(self) -> int:
        return self.total_cents - self.paid_cents

    @property
    def settled(self) -> bool:
        return bool(self.lines) and self.due_cents == 0

    def pay(self, kind: str, cents: int | None = None, serial: str | None = None) -> int:
        """Take a tender (all that is due by default); returns the change, given only on cash.
        `serial`: the loyalty cheque's (terminal.cheques checks it first)."""
        if kind not in TENDER_KINDS or kind == "points":
            raise BasketError(
                _("tender {kind!r} unknown here: use one of cash, bank_card, cheque (points: redeem)").format(kind=kind)
            )
        if not self.lines:
            raise BasketError(_("the basket is empty: scan an article first"))
        due = self.due_cents
        cents = due if cents is None else cents
        if cents <= 0:
            raise BasketError(_("a payment is a positive amount, not {amount}").format(amount=format_money(cents)))
        if due <= 0:
            raise BasketError(_("nothing is left to pay: close the ticket"))
        change = 0
        if cents > due:
            if kind != "cash":
                raise BasketError(
                    _("{kind} pays at most what is due ({amount}); only cash gives change").format(
                        kind=_(kind), amount=format_money(due)
                    )
                )
            change, cents = cents - due, due
        self.tenders.append(Tender(kind=kind, cents=cents) if serial is None else Tender(kind, cents, serial))
        self.change_cents += change
        return change

    @property
    def points_used(self) -> int:
        """Points this ticket takes from the card: tender and cheques."""
        return self.redeemed_points + sum(entry.points for entry in self.cheques)

    def apply_redemption(self, redemption: TenderPlan) -> None:
        if self.card is None:
            raise BasketError(_("no card on this ticket: identify the card (F2) before redeeming points"))
        self.tenders.append(Tender(kind="points", cents=redemption.cents))
        self.redeemed_points += redemption.points
