"""The Z report: a closure as printed at the till when the day is closed (close-day key).

Like the receipt (terminal/receipt.py), it is in the till's language: money `1 234,56 €` with plain spaces
(the printer's code page lacks U+202F; the € sign goes through CP858), counts `1 234`, the period and the
closing time as people read them, in Paris time.
"""

from __future__ import annotations

from datetime import date

import msgspec

from programme.closure import Closure
from programme.i18n import _, format_date, format_datetime

from .receipt import RULE, WIDTH, _money, _number, _pair, _rate_text, _tender_label


def _period(period: str) -> str:
    """The closed period as people read it: a day `05/12/2026`, a month `12/2026`, a year `2026`."""
    if len(period) == 10:
        return format_date(date.fromisoformat(period))
    if len(period) == 7:
        return f"{period[5:]}/{period[:4]}"
    return period


def _count_and_money(count: int, cents: int) -> str:
    return f"({_number(count)}) {_money(cents)}"  # "1 1 234,56 €" would read as one amount


def render_z_report(closure: Closure) -> str:
    """The closure's period totals, VAT per rate, events and the perpetual grand total, 42 columns."""
    p, g = closure.period_totals, closure.grand_totals
    out = [
        _("Z REPORT {period}").format(period=_period(closure.period)).center(WIDTH),
        _("till {till}  closure {number}").format(till=closure.terminal, number=closure.number).center(WIDTH),
        RULE,
        _pair(_("closed at"), format_datetime(closure.closed_at)),
        _pair(_("tickets"), _number(p.tickets)),
        _pair(_("sales"), _money(p.sales_cents)),
        _pair(_("returns"), _money(p.returns_cents)),
        _pair(_("net"), _money(p.net_cents)),
    ]
    out += [_pair(f"  {_tender_label(kind)}", _money(cents)) for kind, cents in p.tenders.items()]
    if p.vat is not msgspec.UNSET and p.vat:
        out.append(RULE)
        for rate, vat in p.vat.items():  # one block per rate: a day's amounts outgrow a 42-column table
            out += [
                _("VAT {rate}").format(rate=_rate_text(int(rate))),
                _pair("  " + _("excl. VAT"), _money(vat.ht_cents)),
                _pair("  " + _("VAT"), _money(vat.tva_cents)),
                _pair("  " + _("incl. VAT"), _money(vat.ttc_cents)),
            ]
    if closure.events is not msgspec.UNSET:
        e = closure.events
        out += [
            RULE,
            _pair(_("line voids"), _count_and_money(e.line_voids, e.line_voids_cents)),
            _pair(_("cancelled tickets"), _count_and_money(e.cancelled, e.cancelled_cents)),
            _pair(_("reprints"), _number(e.reprints)),
            _pair(_("training tickets"), _count_and_money(e.training, e.training_cents)),
        ]
    out += [
        RULE,
        _pair(_("perpetual total"), _money(g.net_cents)),
        _pair(_("tickets since the first day"), _number(g.tickets)),
        RULE,
        _("signature {extract}").format(extract=(closure.signature or "")[:16]).center(WIDTH),
    ]
    return "\n".join(out) + "\n"
