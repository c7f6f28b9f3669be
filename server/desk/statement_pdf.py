"""The points statement as a PDF (fpdf2): Courier on A4, so the columns stay aligned.

The PDF core fonts cover Latin-1 only: other characters are replaced, which only touches names.
"""
from __future__ import annotations

from fpdf import FPDF

MARGIN_MM, SIZE_PT, LEADING_MM = 18, 9, 4.6
WIDTH = 90  # Courier 9 pt: 90 characters across the page between the margins


def text_pdf(lines: list[str]) -> bytes:
    """A PDF with the lines in Courier, as many A4 pages as needed."""
    pdf = FPDF(format="A4", unit="mm")
    pdf.set_margins(MARGIN_MM, MARGIN_MM, MARGIN_MM)
    pdf.set_auto_page_break(True, margin=MARGIN_MM)
    pdf.set_creator("loyalty")
    pdf.add_page()
    pdf.set_font("Courier", size=SIZE_PT)
    for line in lines:
        text = line[:WIDTH].encode("latin-1", "replace").decode("latin-1")
        pdf.cell(0, LEADING_MM, text, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def statement_lines(data: dict) -> list[str]:
    """The statement (server.desk.corrections.statement) as fixed-width lines."""
    c = data["customer"]
    row = "{:<10} {:<13} {:<8} {:<38} {:>8} {:>8}"
    lines = ["POINTS STATEMENT", "", f"{c['name']} (customer {c['id']}){', ' + c['postcode'] if c['postcode'] else ''}",
             f"Period {data['start']} to {data['end']} (UTC)", "",
             row.format("Date", "Card", "Kind", "What", "Points", "Balance"), "-" * WIDTH,
             row.format("", "", "", "Opening balance", "", data["opening"])]
    for e in data["entries"]:
        lines.append(row.format(e["at"][:10], e["card"], e["kind"], e["rule"][:38], f"{e['points']:+d}", e["running"]))
    lines += ["-" * WIDTH, row.format("", "", "", f"Credits {data['credits']}, debits {data['debits']}", "", ""),
              row.format("", "", "", "Closing balance", "", data["closing"])]
    return lines


def statement_pdf(data: dict) -> bytes:
    return text_pdf(statement_lines(data))
