"""Receipts and control slips: one plain-text rendering, printed with python-escpos.

The text is what tests compare, what the journal keeps and what a reprint copies; the printer gets the same
lines with ESC/POS styling. By default the printer is a Dummy (bytes kept in memory) or a file; a real
ESC/POS printer is chosen by a spec such as network:192.168.1.50 or usb:0x04b8:0x0e15.

A receipt a French store can hand out: the store's legal mentions (terminal/store_settings.py), the date and
time in Paris time, till, cashier and ticket number; lines TTC with their VAT code; the VAT table per rate
(programme/vat.py: it adds up to the ticket, to the cent); tenders and change; the points per rule, the
balance and when this ticket's points expire; and a footer with the ticket's signature digest, sequence,
line count and the software's version. Labels go through programme.i18n (`_()`); amounts are printed with
plain spaces (receipt printers' code pages lack U+202F) and the € sign is sent in code page CP858.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Mapping
from datetime import date
from functools import cache

from programme.campaign_offers import CampaignOffer, campaign_of
from programme.cardnumber import mask_card_number
from programme.i18n import _, format_date, format_datetime, format_money, format_number, language, ngettext
from programme.redemption import CHEQUE_VALIDITY, cheques_issued
from programme.ticket import Ticket
from programme.rule_names import rule_text
from programme.vat import RATES, format_rate, line_rate, taxed_rate, ticket_vat_table

from .errors import TillError
from .store_settings import StoreSettings, format_siret

WIDTH = 42
RULE = "-" * WIDTH
DUPLICATE_MARK = "*** DUPLICATA ***"
CODE_PAGE = "CP858"  # has the € sign (0xD5), which CP850 lacks
VAT_CODES = dict(zip(RATES, "ABCD"))  # 20 %, 10 %, 5,5 %, 2,1 % (a line sold before lines had a rate: A, 20 %)
DURABLE_CATEGORIES = frozenset({"electronics"})  # under the legal guarantee: the receipt prints without asking


def _tender_label(kind: str) -> str:
    labels = {
        "cash": _("cash"),
        "bank_card": _("bank card"),
        "points": _("points"),
        "cheque": _("loyalty cheque"),
        "voucher": _("voucher"),
    }
    return labels.get(kind, kind)


def _money(cents: int) -> str:
    return format_money(cents, plain=True)


def _number(value: int) -> str:
    return format_number(value, plain=True)


def _pair(left: str, right: str) -> str:
    room = WIDTH - len(right) - 1
    return f"{left[:room]:<{room}} {right}"


def _rate_text(rate: int) -> str:
    text = format_rate(rate)
    return f"{text.replace('.', ',')} %" if language() == "fr" else f"{text}%"


@cache
def software_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("loyalty-engine")
    except PackageNotFoundError:
        return "dev"


def signature_digest(ticket: Ticket) -> str:
    """The first 16 hex digits of the SHA-256 of the ticket's signature, in groups of 4, as printed; tells a
    printed receipt from an altered one against the journal (`unsigned` for a till without a key)."""
    if not ticket.signature:
        return _("unsigned")
    digest = hashlib.sha256(ticket.signature.encode()).hexdigest()[:16]
    return " ".join(digest[i : i + 4] for i in range(0, 16, 4))


def needs_printing(ticket: Ticket) -> bool:
    """AGEC: a receipt prints only when the customer asks, except for durable goods under the legal guarantee."""
    return any(line.category in DURABLE_CATEGORIES for line in ticket.lines)


def _offer_line(rule: str, points: int, offers: Mapping[int, CampaignOffer]) -> str | None:
    """A head-office offer's line, by its campaign's name (None: not an offer the till knows)."""
    offer = offers.get(campaign_of(rule))
    if offer is None:
        return None
    if offer.kind == "cheque":
        return _pair(
            "  " + _("offer {name}").format(name=offer.name),
            _("cheque {amount}").format(amount=_money(offer.cheque_cents)),
        )
    return _pair("  " + _("offer {name}").format(name=offer.name), _number(points))


def _header(ticket: Ticket, settings: StoreSettings | None) -> list[str]:
    out = []
    if settings is None:
        out.append(_("store {store}").format(store=ticket.store).center(WIDTH))
    else:
        out.append(settings.name.center(WIDTH))
        out.extend(line.center(WIDTH) for line in settings.address)
        if settings.siret:
            out.append(f"SIRET {format_siret(settings.siret)}".center(WIDTH))
        if settings.vat_number:
            out.append(_("VAT no. {number}").format(number=settings.vat_number).center(WIDTH))
    out.append(RULE)
    out.append(_pair(format_datetime(ticket.closed_at), _("till {till}").format(till=ticket.terminal)))
    out.append(
        _pair(_("cashier {cashier}").format(cashier=ticket.cashier), _("ticket {number}").format(number=ticket.id))
    )
    return out


def _lines(ticket: Ticket) -> list[str]:
    out = []
    for line in ticket.lines:
        code = VAT_CODES.get(taxed_rate(line_rate(line)), "-")
        if line.quantity == 1 and not line.discount_cents:
            out.append(_pair(line.label, f"{_money(line.total_cents)} {code}"))
            continue
        out.append(line.label[:WIDTH])
        out.append(
            _pair(f"  {line.quantity} x {_money(line.unit_cents)}", f"{_money(line.quantity * line.unit_cents)} {code}")
        )
        if line.discount_cents:
            out.append(_pair("  " + _("discount"), f"{_money(-line.discount_cents)} {code}"))
    return out


def render_vat_table(ticket: Ticket) -> list[str]:
    """The VAT table per rate (programme.vat.ticket_vat_table): code and rate, HT, VAT, TTC, then the totals."""
    table = ticket_vat_table(ticket)

    def row(label: str, *amounts: str) -> str:
        return f"{label[:9]:<9}" + "".join(f"{amount:>11}" for amount in amounts)

    out = [row(_("VAT"), _("excl. VAT"), _("VAT"), _("incl. VAT"))]
    for vat in table.rows:
        label = f"{VAT_CODES.get(vat.rate, '-')} {_rate_text(vat.rate)}"
        out.append(row(label, _money(vat.ht_cents), _money(vat.tva_cents), _money(vat.ttc_cents)))
    if len(table.rows) > 1:
        out.append(row(_("total"), _money(table.ht_cents), _money(table.tva_cents), _money(table.ttc_cents)))
    return out


def _loyalty(
    ticket: Ticket,
    balance: int | None,
    balance_confirmed: bool,
    offers: Mapping[int, CampaignOffer],
    expires_on: date | None,
) -> list[str]:
    out = [RULE, _pair(_("loyalty card"), mask_card_number(ticket.card or ""))]
    earned: dict[str, int] = defaultdict(int)
    for entry in ticket.points:
        if entry.kind == "earn":
            earned[entry.rule] += entry.points
    out.append(_pair(_("points earned"), _number(ticket.points_earned)))
    out.extend(
        _offer_line(rule, points, offers)
        or _tier_line(rule, points, balance_confirmed)
        or _pair(f"  {rule_text(rule, plain=True)}", _number(points))
        for rule, points in earned.items()
    )
    for entry in ticket.points:
        if entry.kind == "redeem":
            what = _("loyalty cheque issued") if "cheque" in entry.rule else _("points redeemed")
            out.append(_pair(what, _number(-entry.points)))
        elif entry.kind == "reverse":
            out.append(_pair(_("points reversed"), _number(-entry.points)))
    if balance is not None:
        out.append(_pair(_("balance") if balance_confirmed else _("balance (offline)"), _number(balance)))
    if expires_on is not None and ticket.points_earned:
        out.append(
            ngettext("{points} point expires on {day}", "{points} points expire on {day}", ticket.points_earned).format(
                points=_number(ticket.points_earned), day=format_date(expires_on)
            )[:WIDTH]
        )
    return out


def _tier_line(rule: str, points: int, confirmed: bool) -> str | None:
    """The tier's extra points; offline, the tier is the last one the till knew, and the receipt says so."""
    if not rule.startswith("tier:"):
        return None
    name = rule[5:]
    text = _("  {tier} tier extra points") if confirmed else _("  {tier} tier (last known, offline)")
    return _pair(text.format(tier=name), _number(points))


def render_receipt(
    ticket: Ticket,
    *,
    change_cents: int = 0,
    balance: int | None = None,
    balance_confirmed: bool = True,
    offers: Mapping[int, CampaignOffer] | None = None,
    settings: StoreSettings | None = None,
    expires_on: date | None = None,
) -> str:
    """The receipt of a ticket as plain text, 42 columns, ending with a newline.

    `offers`: head office's offers by campaign id, so an `offer:<id>` entry shows the campaign's name;
    `settings`: the store's legal mentions; `expires_on`: when the points earned on this ticket expire."""
    offers = offers or {}
    out = _header(ticket, settings)
    if any(line.quantity < 0 for line in ticket.lines):
        out.append(_("RETURN").center(WIDTH))
    out.append(RULE)
    out.extend(_lines(ticket))
    out.append(RULE)
    items = sum(line.quantity for line in ticket.lines)
    out.append(
        _pair(
            ngettext("TOTAL ({count} item)", "TOTAL ({count} items)", abs(items)).format(count=items),
            _money(ticket.total_cents),
        )
    )
    for tender in ticket.tenders:
        out.append(
            _pair(
                f"  {_tender_label(tender.kind)}", _money(tender.cents + (change_cents if tender.kind == "cash" else 0))
            )
        )
    if change_cents:
        out.append(_pair("  " + _("change"), _money(change_cents)))
    out.append(RULE)
    out.extend(render_vat_table(ticket))
    if ticket.card:
        out.extend(_loyalty(ticket, balance, balance_confirmed, offers, expires_on))
    out.append(RULE)
    out.append(
        _pair(
            _("ticket {number}").format(number=ticket.id),
            ngettext("{count} line", "{count} lines", len(ticket.lines)).format(count=len(ticket.lines)),
        )
    )
    out.append(
        _pair(
            _("sequence {seq}").format(seq=ticket.seq), _("signature {digest}").format(digest=signature_digest(ticket))
        )
    )
    out.append(_("loyalty-engine {version}").format(version=software_version()).center(WIDTH))
    return "\n".join(out) + "\n"


def render_duplicate(text: str, copy: int = 1) -> str:
    """A reprint: the receipt as first printed, marked with its copy number above and below (NF525: the
    original is copy 0, the first reprint DUPLICATA 1, and each reprint is a signed event in the journal)."""
    mark = (_("*** DUPLICATA {copy} ***").format(copy=copy) if copy else DUPLICATE_MARK).center(WIDTH)
    return f"{mark}\n{text}{mark}\n"


def render_training(text: str) -> str:
    """A training ticket ("mode école"): marked above and below, so it is never taken for a sale."""
    mark = _("*** MODE ECOLE - TRAINING ***").center(WIDTH)
    return f"{mark}\n{text}{mark}\n"


def render_control_slip(ticket: Ticket, *, balance_before: int, balance_after: int) -> str:
    """The control slip (bon de controle) kept in the till for a points deduction."""
    redeemed = ticket.points_redeemed
    out = [
        _("CONTROL SLIP - BON DE CONTROLE").center(WIDTH),
        RULE,
        _pair(_("ticket"), ticket.id),
        _pair(_("date"), format_datetime(ticket.closed_at)),
        _pair(_("cashier"), ticket.cashier),
        _pair(_("loyalty card"), mask_card_number(ticket.card or "")),
        _pair(_("points deducted"), _number(redeemed)),
        _pair(_("paid with points"), _money(sum(t.cents for t in ticket.tenders if t.kind == "points"))),
        _pair(_("balance before"), _number(balance_before)),
        _pair(_("balance after"), _number(balance_after)),
        RULE,
        _("customer signature:"),
        "",
        "",
    ]
    return "\n".join(out) + "\n"


CHEQUE_RULE_PREFIX = "loyalty cheque: "


def render_cheques(ticket: Ticket, offers: Mapping[int, CampaignOffer] | None = None) -> list[str]:
    """One printed loyalty cheque per cheque entry of the ticket (the customer spends it later), and one
    per cheque offer of head office's on it (`offers` by campaign id)."""
    slips = []
    title = _("LOYALTY CHEQUE - CHEQUE FIDELITE").center(WIDTH)
    for entry in ticket.points:
        offer = (offers or {}).get(campaign_of(entry.rule)) if entry.kind == "earn" else None
        if offer is not None and offer.kind == "cheque":
            out = [
                title,
                RULE,
                _pair(_("value"), _money(offer.cheque_cents)),
                _pair(_("offer"), offer.name),
                _pair(_("loyalty card"), mask_card_number(ticket.card or "")),
                _pair(_("issued with ticket"), ticket.id),
                _pair(_("date"), format_datetime(ticket.closed_at)),
                RULE,
            ]
            slips.append("\n".join(out) + "\n")
            continue
    for serial, cents in cheques_issued(ticket):  # one slip per cheque, its serial under a barcode when printed
        out = [
            title,
            RULE,
            _pair(_("value"), _money(cents)),
            _pair(_("serial"), serial),
            _pair(_("loyalty card"), mask_card_number(ticket.card or "")),
            _pair(_("issued with ticket"), ticket.id),
            _pair(_("date"), format_datetime(ticket.closed_at)),
            _pair(_("valid until"), format_date(ticket.closed_at + CHEQUE_VALIDITY)),
            RULE,
        ]
        slips.append("\n".join(out) + "\n")
    return slips


# -- printers ---------------------------------------------------------------------------------------
def make_printer(spec: str = "dummy"):
    """dummy | file:PATH | network:HOST[:PORT] | usb:VENDOR:PRODUCT (hex ids), as in the till's config."""
    from escpos import printer

    kind, _sep, rest = spec.partition(":")
    try:
        if kind == "dummy":
            return printer.Dummy()
        if kind == "file" and rest:
            return printer.File(rest)
        if kind == "network" and rest:
            host, _sep, port = rest.partition(":")
            return printer.Network(host, int(port or 9100))
        if kind == "usb" and rest:
            vendor, _sep, product = rest.partition(":")
            return printer.Usb(int(vendor, 16), int(product, 16))
    except (OSError, ValueError) as exc:
        raise TillError(
            f"printer {spec!r} could not be opened ({exc}): check the printer is on and "
            "connected, or use --printer dummy"
        ) from None
    raise TillError(f"printer {spec!r} not understood: use dummy, file:PATH, network:HOST[:PORT] or usb:VID:PID")


def print_text(device, text: str, qr: str | None = None) -> None:
    """Send a rendered receipt or slip to an escpos printer in code page CP858 (it has the € sign): the first
    line bold, then a cut (`qr`: the ticket's link, printed as a QR code before the cut: terminal/receipt_qr.py).
    The text has plain spaces only (U+202F and U+00A0 are not in the code page)."""
    first, _sep, rest = text.partition("\n")
    device.charcode(CODE_PAGE)
    device.set(align="left", bold=True)
    device.text(first + "\n")
    device.set(align="left", bold=False)
    device.text(rest)
    if qr:
        from .receipt_qr import print_qr_block

        print_qr_block(device, qr)
    device.cut()
