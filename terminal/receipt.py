"""Receipts and control slips: one plain-text rendering, printed with python-escpos.

The text is what tests compare and what a reprint copies; the printer gets the same lines with
ESC/POS styling. By default the printer is a Dummy (bytes kept in memory) or a file; a real
ESC/POS printer is chosen by a spec such as network:192.168.1.50 or usb:0x04b8:0x0e15.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping

from programme.campaign_offers import CampaignOffer, campaign_of
from programme.cardnumber import mask_card_number
from programme.money import format_cents
from programme.redemption import CHEQUE_VALIDITY, cheques_issued
from programme.ticket import Ticket

from .errors import TillError

WIDTH = 42
RULE = "-" * WIDTH
DUPLICATE_MARK = "*** DUPLICATA ***"
TENDER_LABELS = {"cash": "cash", "bank_card": "bank card", "points": "points", "cheque": "loyalty cheque",
                 "voucher": "voucher"}


def _pair(left: str, right: str) -> str:
    room = WIDTH - len(right) - 1
    return f"{left[:room]:<{room}} {right}"


def _offer_line(rule: str, points: int, offers: Mapping[int, CampaignOffer]) -> str | None:
    """A head-office offer's line, by its campaign's name (None: not an offer the till knows)."""
    offer = offers.get(campaign_of(rule))
    if offer is None:
        return None
    if offer.kind == "cheque":
        return _pair(f"  offer {offer.name}", f"cheque {format_cents(offer.cheque_cents)}")
    return _pair(f"  offer {offer.name}", str(points))


def _tier_line(rule: str, points: int, confirmed: bool) -> str | None:
    """The tier's extra points; offline, the tier is the last one the till knew, and the receipt says so."""
    if not rule.startswith("tier:"):
        return None
    name = rule[5:]
    return _pair(f"  {name} tier extra points" if confirmed else f"  {name} tier (last known, offline)", str(points))


def render_receipt(ticket: Ticket, *, change_cents: int = 0, balance: int | None = None,
                   balance_confirmed: bool = True, offers: Mapping[int, CampaignOffer] | None = None) -> str:
    """The receipt of a ticket as plain text, 42 columns, ending with a newline.

    `offers`: head office's offers by campaign id, so an `offer:<id>` entry shows the campaign's name."""
    offers = offers or {}
    out = [f"store {ticket.store}".center(WIDTH),
           f"till {ticket.terminal}  cashier {ticket.cashier}".center(WIDTH),
           ticket.closed_at.strftime("%Y-%m-%d %H:%M UTC").center(WIDTH)]
    if any(line.quantity < 0 for line in ticket.lines):
        out.append("RETURN".center(WIDTH))
    out.append(RULE)
    for line in ticket.lines:
        if line.quantity == 1 and not line.discount_cents:
            out.append(_pair(line.label, format_cents(line.total_cents)))
            continue
        out.append(line.label[:WIDTH])
        out.append(_pair(f"  {line.quantity} x {format_cents(line.unit_cents)}",
                         format_cents(line.quantity * line.unit_cents)))
        if line.discount_cents:
            out.append(_pair("  discount", format_cents(-line.discount_cents)))
    out.append(RULE)
    items = sum(line.quantity for line in ticket.lines)
    out.append(_pair(f"TOTAL ({items} items)", format_cents(ticket.total_cents)))
    for tender in ticket.tenders:
        out.append(_pair(f"  {TENDER_LABELS.get(tender.kind, tender.kind)}",
                         format_cents(tender.cents + (change_cents if tender.kind == "cash" else 0))))
    if change_cents:
        out.append(_pair("  change", format_cents(change_cents)))
    if ticket.card:
        out.append(RULE)
        out.append(_pair("loyalty card", mask_card_number(ticket.card)))
        earned: dict[str, int] = defaultdict(int)
        for entry in ticket.points:
            if entry.kind == "earn":
                earned[entry.rule] += entry.points
        out.append(_pair("points earned", str(ticket.points_earned)))
        out.extend(_offer_line(rule, points, offers) or _tier_line(rule, points, balance_confirmed)
                   or _pair(f"  {rule}", str(points)) for rule, points in earned.items())
        for entry in ticket.points:
            if entry.kind == "redeem":
                what = "loyalty cheque issued" if "cheque" in entry.rule else "points redeemed"
                out.append(_pair(what, str(-entry.points)))
            elif entry.kind == "reverse":
                out.append(_pair("points reversed", str(-entry.points)))
        if balance is not None:
            out.append(_pair("balance" + ("" if balance_confirmed else " (offline)"), str(balance)))
    out.append(RULE)
    out.append(ticket.id.center(WIDTH))
    return "\n".join(out) + "\n"


def render_duplicate(text: str) -> str:
    """A reprint: the receipt as first printed, marked DUPLICATA above and below."""
    mark = DUPLICATE_MARK.center(WIDTH)
    return f"{mark}\n{text}{mark}\n"


def render_control_slip(ticket: Ticket, *, balance_before: int, balance_after: int) -> str:
    """The control slip (bon de controle) kept in the till for a points deduction."""
    redeemed = ticket.points_redeemed
    out = ["CONTROL SLIP - BON DE CONTROLE".center(WIDTH), RULE,
           _pair("ticket", ticket.id),
           _pair("date", ticket.closed_at.strftime("%Y-%m-%d %H:%M UTC")),
           _pair("cashier", ticket.cashier),
           _pair("loyalty card", mask_card_number(ticket.card or "")),
           _pair("points deducted", str(redeemed)),
           _pair("paid with points", format_cents(sum(t.cents for t in ticket.tenders if t.kind == "points"))),
           _pair("balance before", str(balance_before)),
           _pair("balance after", str(balance_after)),
           RULE, "customer signature:", "", ""]
    return "\n".join(out) + "\n"


CHEQUE_RULE_PREFIX = "loyalty cheque: "


def render_cheques(ticket: Ticket, offers: Mapping[int, CampaignOffer] | None = None) -> list[str]:
    """One printed loyalty cheque per cheque entry of the ticket (the customer spends it later), and one
    per cheque offer of head office's on it (`offers` by campaign id)."""
    slips = []
    for entry in ticket.points:
        offer = (offers or {}).get(campaign_of(entry.rule)) if entry.kind == "earn" else None
        if offer is not None and offer.kind == "cheque":
            out = ["LOYALTY CHEQUE - CHEQUE FIDELITE".center(WIDTH), RULE,
                   _pair("value", f"{format_cents(offer.cheque_cents)} EUR"),
                   _pair("offer", offer.name),
                   _pair("loyalty card", mask_card_number(ticket.card or "")),
                   _pair("issued with ticket", ticket.id),
                   _pair("date", ticket.closed_at.strftime("%Y-%m-%d %H:%M UTC")),
                   RULE]
            slips.append("\n".join(out) + "\n")
            continue
    for serial, cents in cheques_issued(ticket):  # one slip per cheque, its serial under a barcode when printed
        out = ["LOYALTY CHEQUE - CHEQUE FIDELITE".center(WIDTH), RULE,
               _pair("value", f"{format_cents(cents)} EUR"),
               _pair("serial", serial),
               _pair("loyalty card", mask_card_number(ticket.card or "")),
               _pair("issued with ticket", ticket.id),
               _pair("date", ticket.closed_at.strftime("%Y-%m-%d %H:%M UTC")),
               _pair("valid until", (ticket.closed_at + CHEQUE_VALIDITY).strftime("%Y-%m-%d")),
               RULE]
        slips.append("\n".join(out) + "\n")
    return slips


# -- printers ---------------------------------------------------------------------------------------
def make_printer(spec: str = "dummy"):
    """dummy | file:PATH | network:HOST[:PORT] | usb:VENDOR:PRODUCT (hex ids), as in the till's config."""
    from escpos import printer

    kind, _, rest = spec.partition(":")
    try:
        if kind == "dummy":
            return printer.Dummy()
        if kind == "file" and rest:
            return printer.File(rest)
        if kind == "network" and rest:
            host, _, port = rest.partition(":")
            return printer.Network(host, int(port or 9100))
        if kind == "usb" and rest:
            vendor, _, product = rest.partition(":")
            return printer.Usb(int(vendor, 16), int(product, 16))
    except (OSError, ValueError) as exc:
        raise TillError(f"printer {spec!r} could not be opened ({exc}): check the printer is on and "
                        "connected, or use --printer dummy") from None
    raise TillError(f"printer {spec!r} not understood: use dummy, file:PATH, network:HOST[:PORT] or usb:VID:PID")


def print_text(device, text: str) -> None:
    """Send a rendered receipt or slip to an escpos printer: the first line bold, then a cut."""
    first, _, rest = text.partition("\n")
    device.set(align="left", bold=True)
    device.text(first + "\n")
    device.set(align="left", bold=False)
    device.text(rest)
    device.cut()
