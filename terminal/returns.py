"""Returns: find the original ticket (the till's journal, or head office when online), pick lines, close a
return ticket.

A ticket sold at another till of the chain is asked from head office (terminal.requests) and kept in
`foreign_tickets`, as stored at head office, so picking its lines and closing the return do not ask again.

The return ticket has negative quantities and "reverse" points entries that take back what the
returned lines earned: the rules engine's `programme.returns.reverse_lines` prorates them
cumulatively by quantity, so all returns of a ticket never reverse more than it earned.
"""
from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from datetime import datetime, timezone

import msgspec

from programme.rules import RuleSet
from programme.returns import reverse_lines
from programme.ticket import PointsEntry, ReturnLink, Tender, Ticket, make_line

from sync.codec import decode_ticket
from sync.errors import CodecError

from . import rules_store
from .errors import ReturnError
from .journal import Journal

FOREIGN_SCHEMA = """
CREATE TABLE IF NOT EXISTS foreign_tickets (
    id TEXT PRIMARY KEY,
    payload BLOB NOT NULL,
    fetched_at TEXT NOT NULL
)
"""


def kept_foreign(conn: sqlite3.Connection, ticket_id: str) -> Ticket | None:
    """A ticket of another till fetched earlier from head office, or None."""
    conn.execute(FOREIGN_SCHEMA)
    row = conn.execute("SELECT payload FROM foreign_tickets WHERE id = ?", (ticket_id,)).fetchone()
    return decode_ticket(row[0]) if row else None


def fetch_foreign(conn: sqlite3.Connection, requester, ticket_id: str) -> Ticket:
    """Ask head office for a ticket of another till and keep it; ReturnError says why it is not there.

    Waits up to terminal.requests.ASK_TIMEOUT: call it from a worker, never from the screen's thread.
    """
    reply = requester.ask("ticket", ticket_id=ticket_id)
    if reply is None:
        raise ReturnError(f"ticket {ticket_id} is not in this till's journal and head office did not answer "
                          "(offline): take the return when the till is online, or at the till that sold it")
    if not reply.found:
        raise ReturnError(reply.message or f"ticket {ticket_id} is not at head office")
    payload = bytes(reply.ticket)
    try:
        ticket = decode_ticket(payload)
    except CodecError as exc:
        raise ReturnError(f"ticket {ticket_id} from head office could not be read ({exc}): "
                          "take the return at the till that sold it") from None
    if ticket.id != ticket_id:
        raise ReturnError(f"head office answered with ticket {ticket.id} instead of {ticket_id}: ask again")
    conn.execute(FOREIGN_SCHEMA)
    with conn:
        conn.execute("INSERT OR REPLACE INTO foreign_tickets (id, payload, fetched_at) VALUES (?, ?, ?)",
                     (ticket.id, payload, datetime.now(timezone.utc).isoformat()))
    return ticket


def is_foreign(journal: Journal, ticket_id: str) -> bool:
    """Sold at another till (its id names another terminal): only head office can have it."""
    return not ticket_id.strip().startswith(f"{journal.terminal}-")


def find_original(journal: Journal, ticket_id: str, requester=None) -> Ticket:
    """The ticket from this till's journal, else from another till of the chain through head office.

    `requester` (terminal.requests.Requester): without it, or offline, only what this till holds.
    """
    ticket_id = ticket_id.strip()
    ticket = journal.find_ticket(ticket_id)
    if ticket is None and is_foreign(journal, ticket_id):
        ticket = kept_foreign(journal.conn, ticket_id)
        if ticket is None and requester is not None:
            ticket = fetch_foreign(journal.conn, requester, ticket_id)
    if ticket is None:
        raise ReturnError(f"ticket {ticket_id} is not in this till's journal: check the number printed "
                          f"at the foot of the receipt, e.g. {journal.terminal}-00000042")
    if any(line.quantity < 0 for line in ticket.lines):
        raise ReturnError(f"ticket {ticket.id} is itself a return: pick the original sale's ticket")
    return ticket


def returned_so_far(journal: Journal, original_id: str) -> tuple[dict[int, int], int]:
    """Quantities already returned per original line, and points already reversed."""
    rows = journal.conn.execute(
        "SELECT line_no, sum(quantity), sum(points) FROM returned_lines WHERE original_id = ? GROUP BY line_no",
        (original_id,)).fetchall()
    return {line_no: qty for line_no, qty, _ in rows}, sum(points for _, _, points in rows)


def rules_of(journal: Journal, ticket: Ticket) -> RuleSet:
    """The rules a ticket was sold under (its version as kept by the till), else those in force then."""
    kept = {rules.version: rules for rules in rules_store.versions(journal.conn)}
    return kept.get(ticket.rules_version) or rules_store.in_force(journal.conn, ticket.opened_at)


def close_return(journal: Journal, original_id: str, picks: Mapping[int, int], cashier: str = "cashier",
                 tender_kind: str = "cash", requester=None) -> Ticket:
    """Return `picks` (0-based original line -> quantity) of a ticket; refund with one tender."""
    original = find_original(journal, original_id, requester)
    done, _ = returned_so_far(journal, original.id)
    rules = rules_of(journal, original)
    reversal = reverse_lines(rules, original, picks, done)  # checks the picks, says what is wrong
    lines, entries, links = [], [], []
    for index, quantity in sorted(picks.items()):
        line = original.lines[index]
        # A discounted line is refunded at its effective unit price, rounded down to the cent.
        unit = line.unit_cents if line.discount_cents == 0 else line.total_cents // line.quantity
        lines.append(make_line(line.gtin, -quantity, unit, line.category, line.label))
        points = reversal.by_line.get(index, 0) if original.card else 0
        if points:
            entries.append(PointsEntry(kind="reverse", rule=f"return of {original.id} line {index + 1}",
                                       points=points, line=len(lines) - 1))
        links.append(ReturnLink(line=len(lines) - 1, original=original.id, original_line=index, quantity=quantity,
                                points=points))
    basket = reversal.by_line.get(None, 0) if original.card else 0
    if basket:
        entries.append(PointsEntry(kind="reverse", rule=f"return of {original.id}", points=basket))
        links[0] = msgspec.structs.replace(links[0], points=links[0].points + basket)

    def link(conn: sqlite3.Connection, ticket: Ticket) -> None:
        conn.executemany("INSERT INTO returned_lines VALUES (?, ?, ?, ?, ?)",
                         [(ticket.id, original.id, r.original_line, r.quantity, r.points) for r in links])

    total = sum(li.total_cents for li in lines)
    return journal.close_ticket(cashier=cashier, lines=lines, tenders=[Tender(kind=tender_kind, cents=total)],
                                card=original.card, points=entries, rules_version=rules.version, also=link,
                                returns=links)
