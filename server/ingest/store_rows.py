"""Pure pieces of the server's store, shared by the SQLite and the PostgreSQL implementations.

A ticket's rows (ticket, lines, points ledger) and the hash-chain rule: no database here.
"""

from __future__ import annotations

from programme.ledger import ticket_cause
from programme.ticket import Ticket, signed_points
from programme.vat import line_rate


def ticket_row(ticket: Ticket, digest: str, now: str, payload: bytes) -> tuple:
    """The `tickets` columns in order: id, terminal, seq, store, cashier, closed_at, card, total_cents,
    points_earned, points_redeemed, rules_version, hash, prev_hash, received_at, payload."""
    earned = redeemed = 0
    for entry in ticket.points:  # one pass for both sums: every synced ticket comes here
        if entry.kind == "earn":
            earned += entry.points
        elif entry.kind == "redeem":
            redeemed += entry.points
    return (
        ticket.id,
        ticket.terminal,
        ticket.seq,
        ticket.store,
        ticket.cashier,
        ticket.closed_at.isoformat(),
        ticket.card,
        ticket.total_cents,
        earned,
        redeemed,
        ticket.rules_version,
        digest,
        ticket.prev_hash,
        now,
        payload,
    )


LINE_COLUMNS = "ticket_id, line_no, gtin, label, category, quantity, unit_cents, discount_cents, total_cents, vat_rate"


def line_rows(ticket: Ticket) -> list[tuple]:
    """The `lines` columns (LINE_COLUMNS); vat_rate NULL for a line sold before lines carried it."""
    tid = ticket.id
    return [
        (
            tid,
            n,
            li.gtin,
            li.label,
            li.category,
            li.quantity,
            li.unit_cents,
            li.discount_cents,
            li.total_cents,
            line_rate(li),
        )
        for n, li in enumerate(ticket.lines)
    ]


def ledger_rows(ticket: Ticket, credit: tuple | None = None, only: str | None = None) -> list[tuple]:
    """The `ledger` columns (card, kind, points, rule, cause, ticket_id, at); none for an anonymous ticket.

    One entry per kind and rule: the sum of the ticket's points entries for that rule (its lines'
    detail stays on the ticket). A basket earns on most of its lines with the same rule, so this
    books about one entry a ticket instead of eight, and ingest writes a third less (bench/ingest.py).
    `cause` (ticket:ID:N, N the rule's first entry) is unique: a ticket never books its points twice.
    Databases written before hold one entry per points entry: the sums are the same.

    `credit`: the earn entries head office credits instead of the till's (server/ingest/rules_check.py): the
    entries are then the till's debits followed by these, so the debits keep their causes when held
    earn points are booked later with the same `credit` and `only="earn"`."""
    if not ticket.card:
        return []
    entries = ticket.points if credit is None else [*(e for e in ticket.points if e.kind != "earn"), *credit]
    grouped: dict[tuple[str, str], list[int]] = {}  # (kind, rule) -> [first entry's index, signed points]
    for n, entry in enumerate(entries):
        found = grouped.get((entry.kind, entry.rule))
        if found is None:
            grouped[(entry.kind, entry.rule)] = [n, signed_points(entry)]
        else:
            found[1] += signed_points(entry)
    closed, card, tid = ticket.closed_at.isoformat(), ticket.card, ticket.id
    return [
        (card, kind, points, rule, ticket_cause(tid, n), tid, closed)
        for (kind, rule), (n, points) in grouped.items()
        if only is None or kind == only
    ]


def chain_breaks(
    terminal: str, seq: int, digest: str, prev_hash: str, hash_before: str | None, prev_hash_after: str | None
) -> list[tuple[str, int, str, str]]:
    """Links that do not hold around a stored ticket (its hash `digest`, naming `prev_hash`), as
    (terminal, seq, expected_prev_hash, found_prev_hash).

    `hash_before`: the stored hash of seq - 1; `prev_hash_after`: the prev_hash stored with seq + 1
    (None when that ticket is not there, or its link is checked from its own side)."""
    breaks = []
    if hash_before is not None and hash_before != prev_hash:
        breaks.append((terminal, seq, hash_before, prev_hash))
    if prev_hash_after is not None and prev_hash_after != digest:
        breaks.append((terminal, seq + 1, digest, prev_hash_after))
    return breaks


def chunks(items: list, size: int = 500):
    """`items` in slices of at most `size`: an IN (...) list stays under the engines' parameter limits."""
    for start in range(0, len(items), size):
        yield items[start : start + size]
