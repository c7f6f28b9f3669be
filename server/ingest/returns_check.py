"""Head office's view of returns: the links return tickets carry (programme.ticket.ReturnLink), kept in
`returned_lines`, and a return flagged in `discrepancies` when it takes a line past what was sold (all
tills together) or names a ticket head office does not hold.

Runs inside the ingest transaction, on SQLite and, through server.storage.connection's PgConnection, on PostgreSQL.
A batch without returns costs one pass over its tickets and one indexed query per 500 tickets (is any of
them the original of a return that waits for it?); one with returns, one insert and two queries per 500
originals named.
"""

from __future__ import annotations

from collections import Counter

from programme.ticket import Ticket

from server.ingest.store_rows import chunks

LINK_INSERT = (
    "INSERT OR IGNORE INTO returned_lines (return_id, line_no, original_id, original_line, quantity, "
    "points) VALUES (?, ?, ?, ?, ?, ?)"
)
# A ticket already flagged (its points, say) keeps that reason and gets this one after it.
FLAG_INSERT = (
    "INSERT INTO discrepancies (ticket_id, card, rules_version, till_points, server_points, reason, "
    "detected_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (ticket_id) DO UPDATE SET "
    "reason = discrepancies.reason || '; ' || excluded.reason"
)


def not_held(original: str) -> str:
    return (
        f"return of {original}, which head office does not hold (yet): it may arrive when the till that "
        "sold it syncs; check this return then"
    )


def past_sold(original: str, line: int, returned: int, sold: int) -> str:
    return (
        f"line {line + 1} of {original} returned beyond what was sold: {returned} of {sold} returned, "
        "all tills together (its points reversed more than once)"
    )


def returned_quantities(conn, original_id: str) -> dict[int, int]:
    """Quantities of each line of a ticket returned so far at head office (all tills)."""
    return dict(
        conn.execute(
            "SELECT original_line, sum(quantity) FROM returned_lines WHERE original_id = ? GROUP BY original_line",
            (original_id,),
        ).fetchall()
    )


def record_returns(conn, tickets: list[Ticket], now: str) -> int:
    """Keep the links of the batch's returns (already stored with their lines) and flag the wrong ones;
    returns how many returns were flagged."""
    returning = [t for t in tickets if t.returns]
    if not returning:
        return recheck_waiting(conn, tickets, now)
    conn.executemany(
        LINK_INSERT,
        [(t.id, r.line, r.original, r.original_line, r.quantity, r.points) for t in returning for r in t.returns],
    )
    originals = sorted({r.original for t in returning for r in t.returns})
    sold: dict[str, dict[int, int]] = {}
    returned: Counter = Counter()
    for chunk in chunks(originals):
        marks = ",".join("?" * len(chunk))
        for ticket_id, line_no, quantity in conn.execute(
            f"SELECT ticket_id, line_no, quantity FROM lines WHERE ticket_id IN ({marks})", chunk
        ).fetchall():
            sold.setdefault(ticket_id, {})[line_no] = quantity
        for original, line_no, quantity in conn.execute(
            f"SELECT original_id, original_line, sum(quantity) FROM returned_lines WHERE original_id IN ({marks}) "
            "GROUP BY original_id, original_line",
            chunk,
        ).fetchall():
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
    recheck_waiting(conn, tickets, now)
    return len(flagged)


def recheck_waiting(conn, tickets: list[Ticket], now: str) -> int:
    """Returns flagged because their original was not held are checked again when it arrives in this batch.

    The "does not hold (yet)" reason goes; what the original shows takes its place (a line returned past
    what was sold, all returns of it in the order they were closed; a line it does not have). A return with
    nothing left to say leaves the discrepancies. One indexed query per 500 tickets when no return waits.
    Returns how many flags were changed."""
    waiting: dict[str, set[str]] = {}  # original id -> return ids linked to it
    for chunk in chunks([t.id for t in tickets]):
        for return_id, original in conn.execute(
            f"SELECT DISTINCT return_id, original_id FROM returned_lines WHERE original_id IN "
            f"({','.join('?' * len(chunk))})",
            chunk,
        ).fetchall():
            waiting.setdefault(original, set()).add(return_id)
    changed = 0
    for original in sorted(waiting):
        marker = not_held(original)
        flagged = {
            ticket_id: reason
            for ticket_id, reason in conn.execute(
                f"SELECT ticket_id, reason FROM discrepancies "
                f"WHERE ticket_id IN ({','.join('?' * len(waiting[original]))})",
                sorted(waiting[original]),
            ).fetchall()
            if marker in reason
        }
        if not flagged:
            continue
        sold = dict(conn.execute("SELECT line_no, quantity FROM lines WHERE ticket_id = ?", (original,)).fetchall())
        news: dict[str, list[str]] = {}
        so_far: Counter = Counter()
        for return_id, line, quantity in conn.execute(
            "SELECT r.return_id, r.original_line, r.quantity FROM returned_lines r "
            "JOIN tickets t ON t.id = r.return_id "
            "WHERE r.original_id = ? ORDER BY t.closed_at, r.return_id, r.line_no",
            (original,),
        ).fetchall():
            so_far[line] += quantity
            if return_id not in flagged:
                continue
            if line not in sold:
                news.setdefault(return_id, []).append(
                    f"line {line + 1} of {original} does not exist: it has {len(sold)} lines"
                )
            elif so_far[line] > sold[line]:
                news.setdefault(return_id, []).append(past_sold(original, line, so_far[line], sold[line]))
        for return_id, reason in flagged.items():
            kept = [part for part in reason.replace(marker, "\0").split("; ") if part != "\0"] + news.get(return_id, [])
            if kept:
                conn.execute(
                    "UPDATE discrepancies SET reason = ?, detected_at = ? WHERE ticket_id = ?",
                    ("; ".join(kept), now, return_id),
                )
            else:
                conn.execute("DELETE FROM discrepancies WHERE ticket_id = ?", (return_id,))
            changed += 1
    return changed
