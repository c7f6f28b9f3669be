"""The Z report: a closure as printed at the till when the day is closed (close-day key)."""

from __future__ import annotations

import msgspec

from programme.closure import Closure
from programme.i18n import _
from programme.money import format_cents

from .receipt import RULE, WIDTH, _pair


def render_z_report(closure: Closure) -> str:
    """The closure's period totals, VAT per rate, events and the perpetual grand total, 42 columns."""
    p, g = closure.period_totals, closure.grand_totals
    out = [
        _("Z REPORT {period}").format(period=closure.period).center(WIDTH),
        _("till {till}  closure {number}").format(till=closure.terminal, number=closure.number).center(WIDTH),
        RULE,
        _pair(_("tickets"), str(p.tickets)),
        _pair(_("sales"), format_cents(p.sales_cents)),
        _pair(_("returns"), format_cents(p.returns_cents)),
        _pair(_("net"), format_cents(p.net_cents)),
    ]
    out += [_pair(f"  {kind}", format_cents(cents)) for kind, cents in p.tenders.items()]
    if p.vat is not msgspec.UNSET:
        out.append(_("VAT rate      excl. VAT      VAT     incl. VAT"))
        for rate, vat in p.vat.items():
            units, rest = divmod(int(rate), 100)
            shown = f"{units}" if not rest else f"{units}.{rest:02d}".rstrip("0")
            out.append(
                f"{shown + ' %':<10}{format_cents(vat.ht_cents):>12}{format_cents(vat.tva_cents):>10}"
                f"{format_cents(vat.ttc_cents):>10}"
            )
    if closure.events is not msgspec.UNSET:
        e = closure.events
        out += [
            RULE,
            _pair(_("line voids"), f"{e.line_voids}  {format_cents(e.line_voids_cents)}"),
            _pair(_("cancelled tickets"), f"{e.cancelled}  {format_cents(e.cancelled_cents)}"),
            _pair(_("reprints"), str(e.reprints)),
            _pair(_("training tickets"), f"{e.training}  {format_cents(e.training_cents)}"),
        ]
    out += [
        RULE,
        _pair(_("perpetual total"), format_cents(g.net_cents)),
        _pair(_("tickets since the first day"), str(g.tickets)),
        RULE,
        _("signature {extract}").format(extract=(closure.signature or "")[:16]).center(WIDTH),
    ]
    return "\n".join(out) + "\n"
