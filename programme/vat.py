"""French VAT (TVA) on a ticket: the rates in basis points and the table per rate a receipt prints.

Prices at the till are TTC (VAT included). The tax of each rate is taken once, from that rate's TTC total:
TVA = round(TTC x rate / (1 + rate)) (half away from zero), HT = TTC - TVA. So the table's TTC column is the
ticket's lines summed, to the cent, whatever the rounding: the receipt, the head-office ticket page and the
statement all call `vat_table`, and the closures count VAT with the same `tax_of` and `taxed_rate`.

A line sold before tickets carried their VAT rate is taxed at the normal rate (UNRECORDED_RATE, 20 %) everywhere:
on its receipt, statement and ticket page as in the closures that counted it. Its stored rate stays NULL.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .errors import ProgrammeError

STANDARD = 2000  # 20 %: the normal rate
INTERMEDIATE = 1000  # 10 %: restaurant, some services, non-alcoholic drinks to drink on site...
REDUCED = 550  # 5,5 %: food, books, energy...
SUPER_REDUCED = 210  # 2,1 %: reimbursed medicines, press
RATES = (STANDARD, INTERMEDIATE, REDUCED, SUPER_REDUCED)  # metropolitan France's rates, basis points
BASIS = 10_000  # basis points in 100 %
UNRECORDED_RATE = STANDARD  # the rate of a line sold before lines carried theirs (what closures always counted)


class VatError(ProgrammeError):
    """A VAT rate is not one of the French rates."""


def check_rate(rate: int) -> int:
    """`rate` (basis points) when it is one of the French rates; VatError otherwise."""
    if rate not in RATES:
        raise VatError(f"VAT rate {format_rate(rate)} % is not a French rate: use 20, 10, 5.5 or 2.1")
    return rate


def format_rate(rate: int) -> str:
    """2000 -> "20", 550 -> "5.5", 210 -> "2.1" (the language's decimal mark is the caller's business)."""
    units, rest = divmod(rate, 100)
    return f"{units}" if not rest else f"{units}.{rest:02d}".rstrip("0")


def tax_of(ttc_cents: int, rate: int) -> int:
    """The VAT inside a TTC amount, rounded half away from zero to the cent (a refund mirrors a sale)."""
    magnitude = abs(ttc_cents) * rate
    divisor = BASIS + rate
    tax = (2 * magnitude + divisor) // (2 * divisor)
    return -tax if ttc_cents < 0 else tax


@dataclass(frozen=True)
class VatRow:
    """One rate of the table (basis points)."""

    rate: int
    ht_cents: int
    tva_cents: int
    ttc_cents: int


@dataclass(frozen=True)
class VatTable:
    rows: tuple[VatRow, ...]

    @property
    def ht_cents(self) -> int:
        return sum(row.ht_cents for row in self.rows)

    @property
    def tva_cents(self) -> int:
        return sum(row.tva_cents for row in self.rows)

    @property
    def ttc_cents(self) -> int:
        return sum(row.ttc_cents for row in self.rows)


def taxed_rate(rate: int | None) -> int:
    """The rate a line is taxed at: its own, or UNRECORDED_RATE when it was sold before lines carried one."""
    return UNRECORDED_RATE if rate is None else rate


def vat_table(lines: Iterable[tuple[int | None, int]]) -> VatTable:
    """The table of (rate, line TTC total) pairs: one row per rate, highest rate first (a None rate: `taxed_rate`)."""
    totals: dict[int, int] = {}
    for rate, ttc in lines:
        taxed = taxed_rate(rate)
        totals[taxed] = totals.get(taxed, 0) + ttc
    rows = []
    for rate in sorted(totals, reverse=True):
        ttc = totals[rate]
        tva = tax_of(ttc, rate)
        rows.append(VatRow(rate, ttc - tva, tva, ttc))
    return VatTable(tuple(rows))


def ticket_vat_table(ticket) -> VatTable:
    """The VAT table of a ticket's lines (each line's own rate, as it was sold)."""
    return vat_table((line_rate(line), line.total_cents) for line in ticket.lines)


def line_rate(line) -> int | None:
    """A ticket line's VAT rate as recorded, None for a line from before lines carried one (taxed: `taxed_rate`)."""
    rate = getattr(line, "vat_rate", None)
    return rate if isinstance(rate, int) else None
