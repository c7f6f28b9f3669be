"""The points statement as a PDF: a small hand-written PDF 1.4 (Courier, A4), no extra library.

Courier keeps the columns aligned; text outside Latin-1 is replaced, which only touches names.
"""
from __future__ import annotations

PAGE_W, PAGE_H = 595, 842  # A4 in points
MARGIN, SIZE, LEADING = 50, 9, 13
LINES_PER_PAGE = (PAGE_H - 2 * MARGIN) // LEADING
WIDTH = 90  # Courier 9 pt: 5.4 pt a character across 495 pt


def _escape(text: str) -> bytes:
    raw = text.encode("latin-1", "replace")
    return raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")


def text_pdf(lines: list[str]) -> bytes:
    """A PDF with the lines in Courier, as many A4 pages as needed; xref offsets exact."""
    pages = [lines[i:i + LINES_PER_PAGE] for i in range(0, max(len(lines), 1), LINES_PER_PAGE)]
    objects: list[bytes] = [b"<< /Type /Catalog /Pages 2 0 R >>", b"",
                            b"<< /Type /Font /Subtype /Type1 /BaseFont /Courier /Encoding /WinAnsiEncoding >>"]
    kids = []
    for page in pages:
        body = b"BT /F1 %d Tf %d TL %d %d Td " % (SIZE, LEADING, MARGIN, PAGE_H - MARGIN)
        body += b"".join(b"(" + _escape(line[:WIDTH]) + b") Tj T* " for line in page) + b"ET"
        objects.append(b"<< /Length %d >>\nstream\n" % len(body) + body + b"\nendstream")
        content = len(objects)
        objects.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %d %d] /Resources << /Font << /F1 3 0 R >> >> "
                       b"/Contents %d 0 R >>" % (PAGE_W, PAGE_H, content))
        kids.append(len(objects))
    objects[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (b" ".join(b"%d 0 R" % k for k in kids), len(kids))
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, obj in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + obj + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def statement_lines(data: dict) -> list[str]:
    """The statement (server.corrections.statement) as fixed-width lines."""
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
