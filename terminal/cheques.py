"""Loyalty cheques at the till: taking one as a tender (online head office says yes or why not; offline the
till takes it under a cap) and printing the ones a ticket issues with their serial as a Code128 barcode.

The till keeps the cheques it took in `cheque_tenders`, written with the ticket in its transaction, so it
never takes the same cheque twice and counts what it took offline today against the cap.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, timezone

from programme.i18n import _
from programme.redemption import ChequeSerial, check_offline_cheque, read_cheque_serial
from programme.ticket import Ticket

from .errors import RedeemError
from .receipt import CODE_PAGE

SCHEMA = """
CREATE TABLE IF NOT EXISTS cheque_tenders (
    serial TEXT PRIMARY KEY,
    ticket_id TEXT NOT NULL,
    card TEXT,
    cents INTEGER NOT NULL,
    offline INTEGER NOT NULL,
    at TEXT NOT NULL
)
"""


def ensure_schema(conn: sqlite3.Connection) -> None:
    conn.execute(SCHEMA)


def taken_here(conn: sqlite3.Connection, serial: str) -> str | None:
    """The ticket of this till that took the cheque, or None."""
    ensure_schema(conn)
    row = conn.execute("SELECT ticket_id FROM cheque_tenders WHERE serial = ?", (serial,)).fetchone()
    return row[0] if row else None


def taken_offline_today(conn: sqlite3.Connection, card: str, since: datetime) -> int:
    """Cents of cheques this till took offline for the card since the store's day began."""
    ensure_schema(conn)
    return conn.execute(
        "SELECT coalesce(sum(cents), 0) FROM cheque_tenders WHERE card = ? AND offline = 1 AND at >= ?",
        (card, since.astimezone(timezone.utc).isoformat()),
    ).fetchone()[0]


def record_taken(offline: set[str]):
    """The `also` of a ticket's close: keep the cheques it took (`offline`: the serials taken without head office)."""

    def write(conn: sqlite3.Connection, ticket: Ticket) -> None:
        ensure_schema(conn)
        conn.executemany(
            "INSERT INTO cheque_tenders (serial, ticket_id, card, cents, offline, at) VALUES (?, ?, ?, ?, ?, ?)",
            [
                (
                    t.serial,
                    ticket.id,
                    ticket.card,
                    t.cents,
                    int(t.serial in offline),
                    ticket.closed_at.astimezone(timezone.utc).isoformat(),
                )
                for t in ticket.tenders
                if t.kind == "cheque" and t.cents > 0 and isinstance(t.serial, str)
            ],
        )

    return write


def check_serial(conn: sqlite3.Connection, text: str, card: str | None, on_ticket: list[str]) -> ChequeSerial:
    """What the till checks alone before it asks head office: a card, the serial's digits, not taken already."""
    if card is None:
        raise RedeemError(_("no card on this ticket: identify the card (F2) before taking a loyalty cheque"))
    cheque = read_cheque_serial(text)
    if cheque.serial in on_ticket:
        raise RedeemError(_("loyalty cheque {serial} is already on this ticket").format(serial=cheque.serial))
    ticket = taken_here(conn, cheque.serial)
    if ticket is not None:
        raise RedeemError(
            _("loyalty cheque {serial} was already taken at this till (ticket {ticket}): a cheque pays once").format(
                serial=cheque.serial, ticket=ticket
            )
        )
    return cheque


def value_offline(conn: sqlite3.Connection, cheque: ChequeSerial, card: str, since: datetime, on_ticket: int) -> int:
    """Offline, the value the serial carries, under the offline cap (`on_ticket`: cents already taken offline on
    this ticket); RedemptionError says when the cap is reached."""
    check_offline_cheque(cheque.cents, taken_today=taken_offline_today(conn, card, since) + on_ticket)
    return cheque.cents


def print_cheque(device, text: str, serial: str) -> None:
    """A cheque slip with its serial as a Code128 barcode (code set C: two digits a bar pattern), in code page
    CP858 as every slip (terminal.receipt.print_text): the € sign is byte 0xD5, never another code page mid-line."""
    first, _sep, rest = text.partition("\n")
    device.charcode(CODE_PAGE)
    device.set(align="left", bold=True)
    device.text(first + "\n")
    device.set(align="left", bold=False)
    device.text(rest)
    device.barcode("{C" + serial, "CODE128", function_type="B")
    device.cut()
