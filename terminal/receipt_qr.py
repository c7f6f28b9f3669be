"""The QR block at the foot of a receipt: the link to the ticket's page at head office (programme/receipt_link.py).

The base of the link is the till's setting LOYALTY_RECEIPT_URL (head office's public address, e.g.
https://fidelite.example.fr); without it receipts carry no QR code. The code is printed as an image
(python-escpos with the qrcode library), which every ESC/POS printer takes.
"""

from __future__ import annotations

import contextlib
import io
import os

from programme.i18n import _
from programme.receipt_link import receipt_link
from programme.ticket import Ticket

SETTING = "LOYALTY_RECEIPT_URL"
QR_SIZE = 4  # dots per module: about 3 cm wide for a link of about 70 characters


def link_for(ticket: Ticket, base_url: str | None = None) -> str | None:
    """The ticket's link, from `base_url` or the till's setting; None when the till has no receipt URL."""
    base = base_url if base_url is not None else os.environ.get(SETTING, "")
    return receipt_link(base, ticket) if base.strip() else None


def qr_line() -> str:
    """The receipt's one line above the code."""
    return _("Scan for your receipt online:")


def print_qr_block(device, link: str) -> None:
    """Print the code centred, before the receipt's cut."""
    device.set(align="center")
    with contextlib.redirect_stdout(io.StringIO()):  # python-escpos prints a note on printers of unknown width
        device.qr(link, size=QR_SIZE, native=False)  # centred by the alignment above
    device.set(align="left")
