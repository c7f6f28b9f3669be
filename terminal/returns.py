"""Returns: find the original ticket in the till's journal, pick lines, close a return ticket.

The return ticket has negative quantities and "reverse" points entries that take back what the
returned lines earned, prorated by quantity, never more than the original ticket earned in all.
Until the rules engine offers its own returns function, ticket-wide earnings are shared between
lines by their eligible spend (programme.points.eligible_cents), so no points maths lives here.
"""
from __future__ import annotations

import sqlite3
from collections.abc import Mapping

from programme.points import RULES_VERSION, eligible_cents
from programme.ticket import Line, PointsEntry, Tender, Ticket, make_line

from .errors import ReturnError
from .journal import Journal


def find_original(journal: Journal, ticket_id: str) -> Ticket:
    ticket = journal.find_ticket(ticket_id.strip())
    if ticket is None:
        raise ReturnError(f"ticket {ticket_id.strip()} is not in this till's journal: check the number printed "
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


def _part(line: Line, quantity: int) -> Line:
    """`quantity` units of a line, at what they cost on it (discount spread evenly, rounded down)."""
    if line.discount_cents == 0:
        return make_line(line.gtin, quantity, line.unit_cents, line.category, line.label)
    return make_line(line.gtin, quantity, line.total_cents // line.quantity, line.category, line.label)


def _earned_by(ticket: Ticket, index: int, quantity: int) -> int:
    """Points that `quantity` units of line `index` earned, from line and ticket-wide entries."""
    line = ticket.lines[index]
    points = 0
    if quantity == 0:
        return 0
    basis = eligible_cents(ticket.lines)
    for entry in ticket.points:
        if entry.kind != "earn":
            continue
        if entry.line == index:
            points += entry.points * quantity // line.quantity
        elif entry.line is None and basis > 0:
            points += entry.points * eligible_cents([_part(line, quantity)]) // basis
    return points


def close_return(journal: Journal, original_id: str, picks: Mapping[int, int], cashier: str = "cashier",
                 tender_kind: str = "cash") -> Ticket:
    """Return `picks` (0-based original line -> quantity) of a ticket; refund with one tender."""
    original = find_original(journal, original_id)
    if not picks or not any(picks.values()):
        raise ReturnError(f"pick at least one line of {original.id} to return")
    done, reversed_before = returned_so_far(journal, original.id)
    earned = original.points_earned
    lines, entries, links = [], [], []
    budget = earned - reversed_before
    for index, quantity in sorted(picks.items()):
        if not 0 <= index < len(original.lines):
            raise ReturnError(f"ticket {original.id} has no line {index + 1}: it has {len(original.lines)} lines")
        line = original.lines[index]
        left = line.quantity - done.get(index, 0)
        if not 0 < quantity <= left:
            raise ReturnError(f"line {index + 1} of {original.id} ({line.label}): {left} left to return, "
                              f"{quantity} asked")
        part = _part(line, quantity)
        lines.append(make_line(line.gtin, -quantity, part.unit_cents, line.category, line.label))
        # Cumulative difference, so returning units one at a time reverses what returning them together would.
        already = done.get(index, 0)
        points = _earned_by(original, index, already + quantity) - _earned_by(original, index, already)
        points = min(points, budget)
        budget -= points
        if points and original.card:
            entries.append(PointsEntry(kind="reverse", rule=f"return of {original.id} line {index + 1}",
                                       points=points, line=len(lines) - 1))
        links.append((index, quantity, points if original.card else 0))
    everything_back = all(done.get(i, 0) + picks.get(i, 0) >= li.quantity for i, li in enumerate(original.lines))
    if everything_back and budget > 0 and original.card:
        # Rounding left points behind; the whole ticket is back, so they go too (on the last line).
        index, quantity, points = links[-1]
        rule = f"return of {original.id} line {index + 1}"
        if entries and entries[-1].line == len(lines) - 1:
            entries[-1] = PointsEntry(kind="reverse", rule=rule, points=entries[-1].points + budget, line=len(lines) - 1)
        else:
            entries.append(PointsEntry(kind="reverse", rule=rule, points=budget, line=len(lines) - 1))
        links[-1] = (index, quantity, points + budget)

    def link(conn: sqlite3.Connection, ticket: Ticket) -> None:
        conn.executemany("INSERT INTO returned_lines VALUES (?, ?, ?, ?, ?)",
                         [(ticket.id, original.id, i, q, p) for i, q, p in links])

    total = sum(li.total_cents for li in lines)
    return journal.close_ticket(cashier=cashier, lines=lines, tenders=[Tender(kind=tender_kind, cents=total)],
                                card=original.card, points=entries, rules_version=RULES_VERSION, also=link)
