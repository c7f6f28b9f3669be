"""The ticket explorer: every synced ticket, filtered by store, till, dates, card, amount or article.

Pages are keyset-free LIMIT/OFFSET over `closed_at DESC, id` (the closed_at and card indexes keep
the first pages fast); the CSV export streams the same query in chunks. On PostgreSQL closed_at is a
timestamptz: bounds are UTC instants, ids sort byte-wise (COLLATE "C", as SQLite) and closed_at reads
back as the ISO text SQLite keeps.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta

import msgspec

from programme.i18n import N_
from programme.ticket import Ticket

from server.desk import csv_cells
from server.storage.connection import Connection
from server.storage.sql import by_bytes, ticket_by_id, time_from, times_as_text
from ..errors import ServerError

PAGE_SIZE = 50
COLUMNS = (
    "id",
    "terminal",
    "seq",
    "store",
    "cashier",
    "closed_at",
    "card",
    "total_cents",
    "points_earned",
    "points_redeemed",
    "rules_version",
    "received_at",
)


@dataclass
class TicketFilter:
    store: str = ""
    terminal: str = ""
    start: date | None = None
    end: date | None = None  # included
    card: str = ""
    customer_id: int | None = None  # every card of that desk customer
    min_cents: int | None = None
    max_cents: int | None = None
    gtin: str = ""  # tickets with a line of this article

    def where(self, conn=None) -> tuple[str, list]:
        """The WHERE clause and its arguments (PostgreSQL's spelling when `conn` is a PgConnection)."""
        clauses, args = [], []
        for column, value in (("store", self.store), ("terminal", self.terminal), ("card", self.card)):
            if value:
                clauses.append(f"t.{column} = ?")
                args.append(value)
        if self.start:
            mark, value = time_from(conn, self.start)
            clauses.append(f"t.closed_at >= {mark}")
            args.append(value)
        if self.end:
            mark, value = time_from(conn, self.end + timedelta(days=1))
            clauses.append(f"t.closed_at < {mark}")
            args.append(value)
        if self.customer_id is not None:
            clauses.append("t.card IN (SELECT number FROM cards WHERE customer_id = ?)")
            args.append(self.customer_id)
        if self.min_cents is not None:
            clauses.append("t.total_cents >= ?")
            args.append(self.min_cents)
        if self.max_cents is not None:
            clauses.append("t.total_cents <= ?")
            args.append(self.max_cents)
        if self.gtin:
            clauses.append("EXISTS (SELECT 1 FROM lines l WHERE l.ticket_id = t.id AND l.gtin = ?)")
            args.append(self.gtin)
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", args


def _order(conn) -> str:
    return f"t.closed_at DESC, {by_bytes(conn, 't.id')}"


def _as_text(conn, rows) -> Iterator[tuple]:
    """Rows as SQLite gives them: closed_at (column 5) as its ISO text, in UTC."""
    return times_as_text(conn, rows, 5)


def search(conn: Connection, f: TicketFilter, page: int = 1, page_size: int = PAGE_SIZE) -> list[dict]:
    """One page of tickets, newest first (page 1 is the first)."""
    if page < 1:
        raise ServerError(f"page {page} does not exist: pages start at 1")
    where, args = f.where(conn)
    cur = conn.execute(
        f"SELECT {', '.join('t.' + c for c in COLUMNS)} FROM tickets t{where} ORDER BY {_order(conn)} LIMIT ? OFFSET ?",
        [*args, page_size, (page - 1) * page_size],
    )
    return [dict(zip(COLUMNS, row)) for row in _as_text(conn, cur)]


COUNT_LIMIT = 1_000


def count(conn: Connection, f: TicketFilter, limit: int = COUNT_LIMIT) -> int:
    """How many tickets match, counted up to `limit` (so a broad filter stays fast: "1000+")."""
    where, args = f.where(conn)
    return conn.execute(
        f"SELECT count(*) FROM (SELECT 1 FROM tickets t{where} LIMIT ?) matching", [*args, limit]
    ).fetchone()[0]


def export_csv(conn: Connection, f: TicketFilter, chunk: int = 5000) -> Iterator[str]:
    """The matching tickets as CSV text, in chunks (a header first)."""
    where, args = f.where(conn)
    out = io.StringIO()
    writer = csv_cells.Writer(out)  # formulas a till sent are neutralised
    writer.writerow(COLUMNS)
    cur = conn.execute(
        f"SELECT {', '.join('t.' + c for c in COLUMNS)} FROM tickets t{where} ORDER BY {_order(conn)}", args
    )
    while True:
        rows = cur.fetchmany(chunk)
        writer.writerows(_as_text(conn, rows))
        yield out.getvalue()
        out.seek(0)
        out.truncate()
        if not rows:
            return


def detail(conn: Connection, ticket_id: str) -> dict:
    """A ticket as the till printed it (from its stored message), with its sync and signature status."""
    columns = f"{', '.join(COLUMNS)}, hash, prev_hash, payload"
    row = ticket_by_id(conn, columns, ticket_id)
    if row is None:
        raise ServerError(f"no ticket {ticket_id}: search for it in the ticket explorer")
    found = dict(zip((*COLUMNS, "hash", "prev_hash", "payload"), next(_as_text(conn, [row]))))
    ticket = msgspec.json.decode(found.pop("payload"), type=_Message).ticket
    keyed = conn.execute("SELECT registered_at FROM till_keys WHERE terminal = ?", (found["terminal"],)).fetchone()
    follows = conn.execute(
        "SELECT hash FROM tickets WHERE terminal = ? AND seq = ?", (found["terminal"], found["seq"] - 1)
    ).fetchone()
    breaks = conn.execute(
        "SELECT count(*) FROM chain_breaks WHERE terminal = ? AND seq = ?", (found["terminal"], found["seq"])
    ).fetchone()[0]
    if ticket.signature and keyed:
        signature = N_("signature verified at ingest (a failing one is quarantined, never stored here)")
    elif ticket.signature:
        signature = N_("signed, but the till's key is not registered: not verified")
    else:
        signature = N_("unsigned")
    if breaks:
        chain = N_("chain break: the previous ticket's hash differs")
    elif follows:
        chain = N_("chained to the previous ticket")
    elif found["seq"] == 1:
        chain = N_("first ticket of the till")
    else:
        chain = N_("previous ticket not received yet")
    found.update(
        ticket=ticket,
        signature=signature,
        chain=chain,
        **_discrepancy(conn, ticket_id),
        return_of=_return_of(ticket),
        returned=_returned(conn, ticket_id),
    )
    return found


STATEMENT_TICKETS = 500  # a statement lists at most this many tickets; a longer period says to shorten it


def customer_tickets(
    conn: Connection, customer_id: int, start: date, end: date, limit: int = STATEMENT_TICKETS
) -> list[Ticket]:
    """The tickets of a desk customer's cards closed from `start` to `end` (UTC days, both included), oldest
    first, at most `limit` of them (the statement's purchases and their VAT tables)."""
    where, args = TicketFilter(customer_id=customer_id, start=start, end=end).where(conn)
    rows = conn.execute(f"SELECT t.payload FROM tickets t{where} ORDER BY t.closed_at, t.id LIMIT ?", [*args, limit])
    return [msgspec.json.decode(row[0], type=_Message).ticket for row in rows]


def _return_of(ticket: Ticket) -> list[tuple[str, str]]:
    """A return's originals, each with what it takes back: [(original id, "line 1 x2, line 2 x1")]."""
    taken: dict[str, list[str]] = {}
    for link in ticket.returns or ():
        taken.setdefault(link.original, []).append(f"line {link.original_line + 1} x{link.quantity}")
    return [(original, ", ".join(lines)) for original, lines in taken.items()]


def _returned(conn: Connection, ticket_id: str) -> list[tuple[str, str]]:
    """The returns (any till) of an original, each with what it took back: [(return id, "line 1 x2")]."""
    taken: dict[str, list[str]] = {}
    for return_id, line, quantity in conn.execute(
        "SELECT return_id, original_line, quantity FROM returned_lines WHERE original_id = ? "
        f"ORDER BY {by_bytes(conn, 'return_id')}, original_line",
        (ticket_id,),
    ):
        taken.setdefault(return_id, []).append(f"line {line + 1} x{quantity}")
    return [(return_id, ", ".join(lines)) for return_id, lines in taken.items()]


class _Message(msgspec.Struct):
    ticket: Ticket


def _discrepancy(conn: Connection, ticket_id: str) -> dict[str, str | None]:
    """The points check's reason (English) and its parts (JSON, server/ingest/reasons.py: pages translate them)."""
    row = conn.execute("SELECT reason, reason_json FROM discrepancies WHERE ticket_id = ?", (ticket_id,)).fetchone()
    return {"discrepancy": row[0] if row else None, "discrepancy_json": row[1] if row else None}
