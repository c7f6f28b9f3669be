"""Returns: find the original ticket (the till's journal, or head office when online), pick lines, close a
return ticket.

A ticket sold at another till of the chain is asked from head office (terminal.requests) and kept in
`foreign_tickets`, as stored at head office, so picking its lines and closing the return do not ask again.
Head office's answer also says how much of each line was already returned, all tills together (kept in
`office_returned`): online, a return asks it again before closing, and the till counts per line the
larger of its own returns and head office's, so a line returned at another till is not returned twice.

The return ticket has negative quantities and "reverse" points entries that take back what the
returned lines earned: the rules engine's `programme.returns.reverse_lines` prorates them
cumulatively by quantity, so all returns of a ticket never reverse more than it earned. The refund goes
back to the original's tenders: points as points, a loyalty cheque part as a new cheque, the rest in cash.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from datetime import datetime, timezone

import msgspec

from programme.i18n import _
from programme.rules import RuleSet
from programme.redemption import cheque_serial
from programme.returns import plan_refund, refund_rule, reverse_lines
from programme.ticket import PointsEntry, ReturnLink, Tender, Ticket, make_line

from sync.codec import decode_ticket
from sync.errors import CodecError

from . import rules_store
from .answers import shown
from .errors import ReturnError
from .journal import Journal

FOREIGN_SCHEMA = """
CREATE TABLE IF NOT EXISTS foreign_tickets (
    id TEXT PRIMARY KEY,
    payload BLOB NOT NULL,
    fetched_at TEXT NOT NULL
)
"""


OFFICE_SCHEMA = """
CREATE TABLE IF NOT EXISTS office_returned (
    original_id TEXT NOT NULL,
    line_no INTEGER NOT NULL,
    quantity INTEGER NOT NULL,
    asked_at TEXT NOT NULL,
    PRIMARY KEY (original_id, line_no)
)
"""


def remember_returned(conn: sqlite3.Connection, ticket_id: str, returned: Mapping[int, int]) -> None:
    """Keep what head office says was already returned of a ticket's lines (0-based line -> quantity)."""
    conn.execute(OFFICE_SCHEMA)
    now = datetime.now(timezone.utc).isoformat()
    with conn:
        conn.executemany(
            "INSERT OR REPLACE INTO office_returned VALUES (?, ?, ?, ?)",
            [(ticket_id, line, quantity, now) for line, quantity in returned.items()],
        )


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
        raise ReturnError(
            _(
                "ticket {id} is not in this till's journal and head office did not answer (offline): "
                "take the return when the till is online, or at the till that sold it"
            ).format(id=ticket_id)
        )
    if not reply.found:
        raise ReturnError(shown(reply) or _("ticket {id} is not at head office").format(id=ticket_id))
    payload = bytes(reply.ticket)
    try:
        ticket = decode_ticket(payload)
    except CodecError as exc:
        raise ReturnError(
            _(
                "ticket {id} from head office could not be read ({error}): take the return at the till that sold it"
            ).format(id=ticket_id, error=exc)
        ) from None
    if ticket.id != ticket_id:
        raise ReturnError(
            _("head office answered with ticket {got} instead of {asked}: ask again").format(
                got=ticket.id, asked=ticket_id
            )
        )
    conn.execute(FOREIGN_SCHEMA)
    with conn:
        conn.execute(
            "INSERT OR REPLACE INTO foreign_tickets (id, payload, fetched_at) VALUES (?, ?, ?)",
            (ticket.id, payload, datetime.now(timezone.utc).isoformat()),
        )
    remember_returned(conn, ticket.id, reply.returned)
    return ticket


def ask_head_office(conn: sqlite3.Connection, terminal: str, requester, ticket_id: str) -> bool:
    """Ask head office for a ticket to return: what was already returned of it at every till, and the
    ticket itself when it is another till's, not kept here (ReturnError when that fails, as fetch_foreign).

    False without an answer, or for a ticket of this till head office does not hold yet (not synced:
    no other till can have returned it). Waits up to ASK_TIMEOUT: from a worker, never the screen's thread.
    """
    ticket_id = ticket_id.strip()
    if not ticket_id.startswith(f"{terminal}-") and kept_foreign(conn, ticket_id) is None:
        fetch_foreign(conn, requester, ticket_id)
        return True
    reply = requester.ask("ticket", ticket_id=ticket_id)
    if reply is None or not reply.found:
        return False
    remember_returned(conn, ticket_id, reply.returned)
    return True


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
        raise ReturnError(
            _(
                "ticket {id} is not in this till's journal: check the number printed at the foot of "
                "the receipt, e.g. {terminal}-00000042"
            ).format(id=ticket_id, terminal=journal.terminal)
        )
    if any(line.quantity < 0 for line in ticket.lines):
        raise ReturnError(_("ticket {id} is itself a return: pick the original sale's ticket").format(id=ticket.id))
    return ticket


def returned_here(journal: Journal, original_id: str) -> tuple[dict[int, int], int]:
    """Quantities this till returned per original line, and the points it reversed."""
    rows = journal.conn.execute(
        "SELECT line_no, sum(quantity), sum(points) FROM returned_lines WHERE original_id = ? GROUP BY line_no",
        (original_id,),
    ).fetchall()
    return {line_no: qty for line_no, qty, _ in rows}, sum(points for _, _, points in rows)


def returned_at_head_office(journal: Journal, original_id: str) -> dict[int, int]:
    """What head office said, when last asked, was returned per line at every till."""
    journal.conn.execute(OFFICE_SCHEMA)
    return dict(
        journal.conn.execute(
            "SELECT line_no, quantity FROM office_returned WHERE original_id = ?", (original_id,)
        ).fetchall()
    )


def returned_so_far(journal: Journal, original_id: str) -> tuple[dict[int, int], int]:
    """Quantities already returned per original line: the larger of this till's own count (its unsynced
    returns included) and head office's (every till's synced returns); and the points this till reversed."""
    here, points = returned_here(journal, original_id)
    office = returned_at_head_office(journal, original_id)
    return {line: max(here.get(line, 0), office.get(line, 0)) for line in here.keys() | office.keys()}, points


def refuse_returned_elsewhere(
    journal: Journal, original: Ticket, picks: Mapping[int, int], done: Mapping[int, int]
) -> None:
    """A pick past what is left because another till returned the line says so (ReturnError)."""
    here, _points = returned_here(journal, original.id)
    for index, quantity in sorted(picks.items()):
        if not 0 <= index < len(original.lines) or done.get(index, 0) <= here.get(index, 0):
            continue  # not known elsewhere: reverse_lines says what is wrong, if anything
        sold, returned = original.lines[index].quantity, done[index]
        if quantity > sold - returned:
            raise ReturnError(
                _(
                    "line {number} of {id} was already returned ({returned} of {sold} at all tills, as "
                    "head office knows): {left} left to return, {asked} asked"
                ).format(
                    number=index + 1, id=original.id, returned=returned, sold=sold, left=sold - returned, asked=quantity
                )
            )


def rules_of(journal: Journal, ticket: Ticket) -> RuleSet:
    """The rules a ticket was sold under (its version as kept by the till), else those in force then."""
    kept = {rules.version: rules for rules in rules_store.versions(journal.conn)}
    return kept.get(ticket.rules_version) or rules_store.in_force(journal.conn, ticket.opened_at)


def close_return(
    journal: Journal,
    original_id: str,
    picks: Mapping[int, int],
    cashier: str = "cashier",
    tender_kind: str = "cash",
    requester=None,
) -> Ticket:
    """Return `picks` (0-based original line -> quantity) of a ticket; refund to its tenders (refund_tenders),
    the part paid neither in points nor in loyalty cheques in `tender_kind`.

    `requester` (online): head office is asked first what was already returned at other tills (and for the
    ticket itself, if another till's and not kept); without an answer the till goes on with what it knows.
    """
    if requester is not None:
        ask_head_office(journal.conn, journal.terminal, requester, original_id)
    original = find_original(journal, original_id)
    done, _points = returned_so_far(journal, original.id)
    refuse_returned_elsewhere(journal, original, picks, done)
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
            entries.append(
                PointsEntry(
                    kind="reverse", rule=f"return of {original.id} line {index + 1}", points=points, line=len(lines) - 1
                )
            )
        links.append(
            ReturnLink(line=len(lines) - 1, original=original.id, original_line=index, quantity=quantity, points=points)
        )
    basket = reversal.by_line.get(None, 0) if original.card else 0
    if basket:
        entries.append(PointsEntry(kind="reverse", rule=f"return of {original.id}", points=basket))
        links[0] = msgspec.structs.replace(links[0], points=links[0].points + basket)

    total = sum(li.total_cents for li in lines)
    tenders, expected_seq = refund_tenders(journal, original, done, picks, -total, rules, tender_kind, entries)

    def link(conn: sqlite3.Connection, ticket: Ticket) -> None:
        if ticket.seq != expected_seq:  # the refund cheque's serial names the sequence: another close came between
            raise ReturnError(_("the till closed another ticket meanwhile: take the return again"))
        conn.executemany(
            "INSERT INTO returned_lines VALUES (?, ?, ?, ?, ?)",
            [(ticket.id, original.id, r.original_line, r.quantity, r.points) for r in links],
        )

    return journal.close_ticket(
        cashier=cashier,
        lines=lines,
        tenders=tenders,
        card=original.card,
        points=entries,
        rules_version=rules.version,
        also=link,
        returns=links,
    )


def refund_tenders(
    journal: Journal,
    original: Ticket,
    done: Mapping[int, int],
    picks: Mapping[int, int],
    refund_cents: int,
    rules: RuleSet,
    tender_kind: str,
    entries: list[PointsEntry],
) -> tuple[list[Tender], int]:
    """The return's tenders, back to the original's (programme.returns.plan_refund): points paid back as points
    (a `refund: points tender of ...` earn entry added to `entries`), a cheque part as a new loyalty cheque (its
    serial names the return's sequence, returned too), the rest in `tender_kind`."""
    seq = journal.last_seq() + 1
    if not original.card:
        return [Tender(kind=tender_kind, cents=-refund_cents)], seq
    refund = plan_refund(original, done, picks, refund_cents, rules.redemption.cents_per_point)
    tenders = []
    if refund.points:
        tenders.append(Tender(kind="points", cents=-refund.points_cents))
        entries.append(PointsEntry(kind="earn", rule=refund_rule(original.id), points=refund.points))
    if refund.cheque_cents:
        tenders.append(
            Tender("cheque", -refund.cheque_cents, cheque_serial(journal.terminal, seq, 0, refund.cheque_cents))
        )
    if refund.other_cents or not tenders:
        tenders.append(Tender(kind=tender_kind, cents=-refund.other_cents))
    return tenders, seq
