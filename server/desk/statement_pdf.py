"""The points statement as a PDF (fpdf2): Courier on A4, so the columns stay aligned; in the page's language.

The PDF core fonts are single-byte (fpdf2 takes Latin-1 text and writes WinAnsiEncoding, Windows-1252): the
euro sign and the other Windows-1252 extras (œ, ’, …) are mapped to their byte, amounts use plain spaces
(format_money(plain=True)), and what is still outside is replaced, which only touches names.
"""

from __future__ import annotations

from datetime import date

from fpdf import FPDF

from programme.i18n import _, format_date

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
        lines.append(
            row.format(_day(e["at"]), e["card"], _(e["kind"])[:8], e["rule"][:38], f"{e['points']:+d}", e["running"])
        )
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


def statement_pdf(data: dict) -> bytes:
    return text_pdf(statement_lines(data))
