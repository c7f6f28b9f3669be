"""Sync health per till: last seen, highest contiguous sequence, open gaps, dead letters, quarantine.

Red: a gap still open, a quarantined ticket or a chain break (tickets missing or not trusted).
Amber: dead letters not replayed yet, points the server computes differently (discrepancies), or not heard from for more than AMBER_AFTER (the till may be offline).
Green: everything received, in order, recently.
"""
from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta

from .replay import ensure_schema as ensure_replays

AMBER_AFTER = timedelta(hours=2)


def _has(conn: sqlite3.Connection, table: str) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)).fetchone() is not None


def _per_terminal(conn: sqlite3.Connection, sql: str) -> dict[str, int]:
    return {t: n for t, n in conn.execute(sql) if t is not None}


def till_health(conn: sqlite3.Connection, now: datetime) -> list[dict]:
    """One row per till, worst first (red, amber, green), then by till id."""
    gaps: dict[str, list[tuple[int, int]]] = {}
    for terminal, low, high in conn.execute(
            "SELECT terminal, from_seq, to_seq FROM gaps WHERE resolved_at IS NULL ORDER BY terminal, from_seq"):
        gaps.setdefault(terminal, []).append((low, high))
    ensure_replays(conn)
    dead = _per_terminal(conn, "SELECT terminal, count(*) FROM dead_letters d WHERE NOT EXISTS "
                               "(SELECT 1 FROM dead_letter_replays r WHERE r.dead_letter_id = d.id) GROUP BY terminal")
    quarantined = _per_terminal(conn, "SELECT terminal, count(*) FROM quarantine GROUP BY terminal")
    breaks = _per_terminal(conn, "SELECT terminal, count(*) FROM chain_breaks GROUP BY terminal")
    # a ticket id is "{terminal}-{seq:08d}": the terminal is all but the last 9 characters
    differ = _per_terminal(conn, "SELECT substr(ticket_id, 1, length(ticket_id) - 9), count(*) FROM discrepancies "
                                 "GROUP BY 1") if _has(conn, "discrepancies") else {}
    rows = []
    for terminal, contiguous, max_seq, last_seen in conn.execute(
            "SELECT terminal, contiguous_seq, max_seq, last_seen FROM terminals"):
        open_gaps = gaps.get(terminal, [])
        if max_seq > contiguous and not open_gaps:
            open_gaps = [(contiguous + 1, contiguous + 1)]
        seen = datetime.fromisoformat(last_seen) if last_seen else None
        reasons = []
        if open_gaps:
            missing = sum(high - low + 1 for low, high in open_gaps)
            reasons.append(f"{missing} ticket(s) missing")
        if quarantined.get(terminal):
            reasons.append(f"{quarantined[terminal]} quarantined")
        if breaks.get(terminal):
            reasons.append(f"{breaks[terminal]} chain break(s)")
        status = "red" if reasons else "green"
        if dead.get(terminal):
            reasons.append(f"{dead[terminal]} dead letter(s)")
        if differ.get(terminal):
            reasons.append(f"{differ[terminal]} points discrepancy(ies)")
        if seen is None or now - seen > AMBER_AFTER:
            reasons.append("not seen for " + (_ago(now - seen) if seen else "ever"))
        if status == "green" and reasons:
            status = "amber"
        rows.append({"terminal": terminal, "status": status, "last_seen": last_seen, "contiguous_seq": contiguous,
                     "max_seq": max_seq, "gaps": open_gaps, "dead_letters": dead.get(terminal, 0),
                     "quarantined": quarantined.get(terminal, 0), "chain_breaks": breaks.get(terminal, 0),
                     "discrepancies": differ.get(terminal, 0),
                     "reasons": reasons})
    order = {"red": 0, "amber": 1, "green": 2}
    return sorted(rows, key=lambda r: (order[r["status"]], r["terminal"]))


def _ago(delta: timedelta) -> str:
    hours = int(delta.total_seconds() // 3600)
    return f"{hours // 24} day(s)" if hours >= 48 else f"{hours} hour(s)"


def dead_letters(conn: sqlite3.Connection, limit: int = 200) -> list[dict]:
    """The latest dead letters, each with its replay (when, which ticket, outcome) if it was replayed."""
    ensure_replays(conn)
    cur = conn.execute(
        "SELECT d.id, d.received_at, d.topic, d.terminal, d.seq, d.reason, length(d.payload), r.replayed_at, "
        "r.outcome FROM dead_letters d LEFT JOIN dead_letter_replays r ON r.dead_letter_id = d.id "
        "ORDER BY d.id DESC LIMIT ?", (limit,))
    names = ("id", "received_at", "topic", "terminal", "seq", "reason", "size", "replayed_at", "outcome")
    return [dict(zip(names, row)) for row in cur]
