"""Head office's view of returns: the links return tickets carry (programme.ticket.ReturnLink), kept in
`returned_lines`, and a return flagged in `discrepancies` when it takes a line past what was sold (all
tills together) or names a ticket head office does not hold.

Runs inside the ingest transaction, on SQLite and, through the `?` adapter, on PostgreSQL. A batch
without returns costs one pass over its tickets and no query; one with returns, one insert and two
queries per 500 originals named.
"""
from __future__ import annotations

from collections import Counter

from programme.ticket import Ticket

SCHEMA_SQLITE = """
CREATE TABLE IF NOT EXISTS returned_lines (
    return_id TEXT NOT NULL,
    line_no INTEGER NOT NULL,
    original_id TEXT NOT NULL,
    original_line INTEGER NOT NULL,
    quantity INTEGER NOT NULL,
    points INTEGER NOT NULL,
    PRIMARY KEY (return_id, line_no)
);
CREATE INDEX IF NOT EXISTS returned_lines_original ON returned_lines (original_id, original_line);
"""
SCHEMA_PG = SCHEMA_SQLITE  # the same types mean the same on both

LINK_INSERT = ("INSERT OR IGNORE INTO returned_lines (return_id, line_no, original_id, original_line, quantity, "
               "points) VALUES (?, ?, ?, ?, ?, ?)")
# A ticket already flagged (its points, say) keeps that reason and gets this one after it.
FLAG_INSERT = ("INSERT INTO discrepancies (ticket_id, card, rules_version, till_points, server_points, reason, "
               "detected_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (ticket_id) DO UPDATE SET "
               "reason = discrepancies.reason || '; ' || excluded.reason")


def not_held(original: str) -> str:
    return (f"return of {original}, which head office does not hold (yet): it may arrive when the till that "
            "sold it syncs; check this return then")


def past_sold(original: str, line: int, returned: int, sold: int) -> str:
    return (f"line {line + 1} of {original} returned beyond what was sold: {returned} of {sold} returned, "
            "all tills together (its points reversed more than once)")


def _chunks(items: list[str], size: int = 500):
    for start in range(0, len(items), size):
        yield items[start:start + size]


def returned_quantities(conn, original_id: str) -> dict[int, int]:
    """Quantities of each line of a ticket returned so far at head office (all tills)."""
    return dict(conn.execute("SELECT original_line, sum(quantity) FROM returned_lines WHERE original_id = ? "
                             "GROUP BY original_line", (original_id,)).fetchall())


def record_returns(conn, tickets: list[Ticket], now: str) -> int:
    """Keep the links of the batch's returns (already stored with their lines) and flag the wrong ones;
    returns how many returns were flagged."""
    returning = [t for t in tickets if t.returns]
    if not returning:
        return 0
    conn.executemany(LINK_INSERT, [(t.id, r.line, r.original, r.original_line, r.quantity, r.points)
                                   for t in returning for r in t.returns])
    originals = sorted({r.original for t in returning for r in t.returns})
    sold: dict[str, dict[int, int]] = {}
    returned: Counter = Counter()
    for chunk in _chunks(originals):
        marks = ",".join("?" * len(chunk))
        for ticket_id, line_no, quantity in conn.execute(
                f"SELECT ticket_id, line_no, quantity FROM lines WHERE ticket_id IN ({marks})", chunk).fetchall():
            sold.setdefault(ticket_id, {})[line_no] = quantity
        for original, line_no, quantity in conn.execute(
                f"SELECT original_id, original_line, sum(quantity) FROM returned_lines WHERE original_id IN ({marks}) "
                "GROUP BY original_id, original_line", chunk).fetchall():
            returned[(original, line_no)] = quantity
    batch: Counter = Counter()
    for t in returning:
        for r in t.returns:
            batch[(r.original, r.original_line)] += r.quantity
    # Returned before this batch, then each return in turn: the one that goes past what was sold is flagged.
    before = {key: returned[key] - batch[key] for key in batch}
    flagged = []
    for t in returning:
        reasons: list[str] = []
        for r in t.returns:
            lines = sold.get(r.original)
            if lines is None:
                reason = not_held(r.original)
                if reason not in reasons:
                    reasons.append(reason)
                continue
            key = (r.original, r.original_line)
            before[key] += r.quantity
            if r.original_line not in lines:
                reasons.append(f"line {r.original_line + 1} of {r.original} does not exist: it has {len(lines)} lines")
            elif before[key] > lines[r.original_line]:
                reasons.append(past_sold(r.original, r.original_line, before[key], lines[r.original_line]))
        if reasons:
            reversed_points = sum(e.points for e in t.points if e.kind == "reverse")
            flagged.append((t.id, t.card, t.rules_version, reversed_points, None, "; ".join(reasons), now))
    conn.executemany(FLAG_INSERT, flagged)
    return len(flagged)
