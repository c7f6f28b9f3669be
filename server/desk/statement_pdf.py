"""The points statement as a PDF (fpdf2): Courier on A4, so the columns stay aligned; in the page's language.
After the points, each ticket of the period with its VAT table per rate (programme.vat, as on its receipt).

The PDF core fonts are single-byte (fpdf2 takes Latin-1 text and writes WinAnsiEncoding, Windows-1252): the
euro sign and the other Windows-1252 extras (œ, ’, …) are mapped to their byte, amounts use plain spaces
(format_money(plain=True)), and what is still outside is replaced, which only touches names.
"""

from __future__ import annotations

import textwrap
from datetime import date

from fpdf import FPDF

from programme.i18n import _, format_date, format_datetime, format_money, format_percent, ngettext
from programme.rule_names import rule_text
from programme.vat import BASIS, ticket_vat_table

MARGIN_MM, SIZE_PT, LEADING_MM = 18, 9, 4.6
WIDTH = 90  # Courier 9 pt: 90 characters across the page between the margins
# U+20AC (€) -> "\x80" and the like: Latin-1 text whose bytes WinAnsiEncoding reads as Windows-1252.
WIN_ANSI = {
    ord(bytes([b]).decode("cp1252")): chr(b) for b in range(0x80, 0xA0) if b not in (0x81, 0x8D, 0x8F, 0x90, 0x9D)
}  # the five bytes Windows-1252 leaves undefined
NO_BREAK_SPACES = {0x202F: " ", 0x00A0: " "}


def core_font_text(text: str) -> str:
    """`text` as fpdf2's core fonts take it: Windows-1252's extras as their byte, anything else replaced."""
    return text.translate(NO_BREAK_SPACES).translate(WIN_ANSI).encode("latin-1", "replace").decode("latin-1")


def text_pdf(lines: list[str]) -> bytes:
    """A PDF with the lines in Courier, as many A4 pages as needed."""
    pdf = FPDF(format="A4", unit="mm")
    pdf.set_margins(MARGIN_MM, MARGIN_MM, MARGIN_MM)
    pdf.set_auto_page_break(True, margin=MARGIN_MM)
    pdf.set_creator("loyalty")
    pdf.add_page()
    pdf.set_font("Courier", size=SIZE_PT)
    for line in lines:
        pdf.cell(0, LEADING_MM, core_font_text(line[:WIDTH]), new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def _day(value) -> str:
    text = str(value)
    try:
        return format_date(date.fromisoformat(text[:10]))
    except ValueError:
        return text[:10]


def statement_lines(data: dict) -> list[str]:
    """The statement (server.desk.corrections.statement) as fixed-width lines."""
    c = data["customer"]
    row = "{:<10} {:<13} {:<8} {:<38} {:>8} {:>8}"
    who = _("{name} (customer {id})").format(name=c["name"], id=c["id"]) + (
        f", {c['postcode']}" if c["postcode"] else ""
    )
    lines = [
        _("POINTS STATEMENT"),
        "",
        who,
        _("Period {start} to {end} (UTC)").format(start=_day(data["start"]), end=_day(data["end"])),
        "",
        row.format(_("Date"), _("Card"), _("Kind"), _("What"), _("Points"), _("Balance")),
        "-" * WIDTH,
        row.format("", "", "", _("Opening balance"), "", data["opening"]),
    ]
    for e in data["entries"]:
        # The rule name in the reader's language (French runs longer): wrapped in its column, never cut.
        what = textwrap.wrap(rule_text(e["rule"], plain=True), 38, break_on_hyphens=False) or [""]
        lines.append(row.format(_day(e["at"]), e["card"], _(e["kind"])[:8], what[0], f"{e['points']:+d}", e["running"]))
        lines += [row.format("", "", "", more, "", "") for more in what[1:]]
    lines += [
        "-" * WIDTH,
        row.format(
            "",
            "",
            "",
            _("Credits {credits}, debits {debits}").format(credits=data["credits"], debits=data["debits"]),
            "",
            "",
        ),
        row.format("", "", "", _("Closing balance"), "", data["closing"]),
    ]
    return lines


def _rate(rate: int) -> str:
    """A VAT rate as the head-office ticket page shows it: `20 %`, `5,5 %` (`20%`, `5.5%` in English)."""
    return format_percent(rate / BASIS, digits=0 if rate % 100 == 0 else 1, plain=True)


def _money(cents: int) -> str:
    return format_money(cents, plain=True)


def vat_lines(ticket) -> list[str]:
    """One ticket of the period: its date and time, number and till, then its VAT table per rate (HT, TVA, TTC),
    the same table as its receipt and its head-office page (programme.vat.ticket_vat_table)."""
    table = ticket_vat_table(ticket)
    row = "    {:<22}{:>16}{:>16}{:>16}"
    what = f"{format_datetime(ticket.closed_at)}  {_('ticket {number}').format(number=ticket.id)}"
    lines = [
        f"{what}  {_('till {till}').format(till=ticket.terminal)}",
        row.format(_("VAT rate"), _("Excl. VAT"), _("VAT"), _("Incl. VAT")),
    ]
    lines += [
        row.format(_rate(r.rate), _money(r.ht_cents), _money(r.tva_cents), _money(r.ttc_cents)) for r in table.rows
    ]
    if len(table.rows) > 1:
        lines.append(row.format(_("Total"), _money(table.ht_cents), _money(table.tva_cents), _money(table.ttc_cents)))
    return lines


def purchase_lines(tickets: list, limit: int | None = None) -> list[str]:
    """The period's tickets, each with its VAT table; says so when `limit` tickets were listed (there may be more)."""
    lines = ["", _("PURCHASES AND VAT PER RATE"), "-" * WIDTH]
    if not tickets:
        return [*lines, _("No purchase with the customer's cards in the period.")]
    for ticket in tickets:
        lines += [*vat_lines(ticket), ""]
    if limit is not None and len(tickets) >= limit:
        lines.append(
            ngettext(
                "Only the first {count} ticket is listed: print a shorter period for the others.",
                "Only the first {count} tickets are listed: print a shorter period for the others.",
                limit,
            ).format(count=limit)
        )
    return lines


def statement_pdf(data: dict, tickets: list | None = None, limit: int | None = None) -> bytes:
    """The statement's PDF; with `tickets` (the period's, oldest first, at most `limit` were asked for), each
    one's VAT table after the points."""
    lines = statement_lines(data)
    if tickets is not None:
        lines += purchase_lines(tickets, limit)
    return text_pdf(lines)
