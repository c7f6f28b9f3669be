"""Sync health per till: last seen, highest contiguous sequence, open gaps, dead letters, quarantine.

Red: a gap still open, a quarantined ticket or a chain break (tickets missing or not trusted).
Amber: dead letters not replayed yet, points the server computes differently (discrepancies), or not heard
from for more than AMBER_AFTER (the till may be offline).
Green: everything received, in order, recently.

The outbox backlog is shown as the till last reported it (server.ingest.till_status). A reported backlog whose
oldest message waits for more than BACKLOG_AMBER_AFTER is amber; no report for STATUS_AMBER_AFTER is
amber; no report for STATUS_RED_AFTER while the last one had a backlog is red (tickets stuck at a till
head office cannot hear from).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from server.ingest import till_status
from server.storage.connection import Connection

AMBER_AFTER = timedelta(hours=2)
BACKLOG_AMBER_AFTER = timedelta(minutes=10)  # a till reports every 30 s: its backlog should drain within minutes
STATUS_AMBER_AFTER = timedelta(minutes=5)  # ten reports missed
STATUS_RED_AFTER = timedelta(hours=1)  # ...and the last report still had tickets to send


def _per_terminal(conn: Connection, sql: str) -> dict[str, int]:
    return {t: n for t, n in conn.execute(sql) if t is not None}


def till_health(conn: Connection, now: datetime) -> list[dict]:
    """One row per till, worst first (red, amber, green), then by till id."""
    found = _findings(conn)
    known = conn.execute("SELECT terminal, contiguous_seq, max_seq, last_seen FROM terminals").fetchall()
    known += [(terminal, 0, 0, None) for terminal in sorted(set(found.reported) - {row[0] for row in known})]
    rows = [_till_row(found, now, *till) for till in known]
    order = {"red": 0, "amber": 1, "green": 2}
    return sorted(rows, key=lambda r: (order[r["status"]], r["terminal"]))


@dataclass
class _Findings:
    """What head office holds about its tills, by till id."""

    gaps: dict[str, list[tuple[int, int]]]  # open gaps (from, to)
    dead: dict[str, int]  # dead letters not replayed
    quarantined: dict[str, int]
    breaks: dict[str, int]  # chain breaks
    differ: dict[str, int]  # points discrepancies
    reported: dict[str, dict]  # the last status report (server.ingest.till_status)


def _findings(conn: Connection) -> _Findings:
    gaps: dict[str, list[tuple[int, int]]] = {}
    for terminal, low, high in conn.execute(
        "SELECT terminal, from_seq, to_seq FROM gaps WHERE resolved_at IS NULL ORDER BY terminal, from_seq"
    ):
        gaps.setdefault(terminal, []).append((low, high))
    dead = _per_terminal(
        conn,
        "SELECT terminal, count(*) FROM dead_letters d WHERE NOT EXISTS "
        "(SELECT 1 FROM dead_letter_replays r WHERE r.dead_letter_id = d.id) GROUP BY terminal",
    )
    quarantined = _per_terminal(conn, "SELECT terminal, count(*) FROM quarantine GROUP BY terminal")
    breaks = _per_terminal(conn, "SELECT terminal, count(*) FROM chain_breaks GROUP BY terminal")
    # a ticket id is "{terminal}-{seq:08d}": the terminal is all but the last 9 characters
    differ = _per_terminal(
        conn, "SELECT substr(ticket_id, 1, length(ticket_id) - 9), count(*) FROM discrepancies GROUP BY 1"
    )
    return _Findings(gaps, dead, quarantined, breaks, differ, till_status.latest(conn))


def _till_row(
    found: _Findings, now: datetime, terminal: str, contiguous: int, max_seq: int, last_seen: str | None
) -> dict:
    open_gaps = found.gaps.get(terminal, [])
    if max_seq > contiguous and not open_gaps:
        open_gaps = [(contiguous + 1, contiguous + 1)]
    report = found.reported.get(terminal)
    status, reasons = _status(found, terminal, open_gaps, report, last_seen, now)
    return {
        "terminal": terminal,
        "status": status,
        "last_seen": last_seen,
        "contiguous_seq": contiguous,
        "max_seq": max_seq,
        "gaps": open_gaps,
        "dead_letters": found.dead.get(terminal, 0),
        "quarantined": found.quarantined.get(terminal, 0),
        "chain_breaks": found.breaks.get(terminal, 0),
        "discrepancies": found.differ.get(terminal, 0),
        "backlog": report["backlog"] if report else None,
        "backlog_age": _age(now - _when(report["oldest_unacked_at"]))
        if report and report["backlog"] and report["oldest_unacked_at"]
        else None,
        "status_at": report["sent_at"] if report else None,
        "reasons": reasons,
    }


def _status(
    found: _Findings,
    terminal: str,
    open_gaps: list[tuple[int, int]],
    report: dict | None,
    last_seen: str | None,
    now: datetime,
) -> tuple[str, list[str]]:
    """The till's colour (see the module's docstring) and its reasons, the red ones first."""
    reasons = []
    if open_gaps:
        missing = sum(high - low + 1 for low, high in open_gaps)
        reasons.append(f"{missing} ticket(s) missing")
    if found.quarantined.get(terminal):
        reasons.append(f"{found.quarantined[terminal]} quarantined")
    if found.breaks.get(terminal):
        reasons.append(f"{found.breaks[terminal]} chain break(s)")
    report_reasons, report_red = _report_reasons(report, now)
    if report_red:
        reasons.extend(report_reasons)
    status = "red" if reasons else "green"
    if not report_red:
        reasons.extend(report_reasons)
    if found.dead.get(terminal):
        reasons.append(f"{found.dead[terminal]} dead letter(s)")
    if found.differ.get(terminal):
        reasons.append(f"{found.differ[terminal]} points discrepancy(ies)")
    seen = datetime.fromisoformat(last_seen) if last_seen else None
    if seen is None or now - seen > AMBER_AFTER:
        reasons.append("not seen for " + (_ago(now - seen) if seen else "ever"))
    if status == "green" and reasons:
        status = "amber"
    return status, reasons


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _age(delta: timedelta) -> str:
    """A short age for the page: seconds, minutes, hours or days."""
    seconds = max(int(delta.total_seconds()), 0)
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h" if seconds < 48 * 3600 else f"{seconds // 86400} days"


def _report_reasons(report: dict | None, now: datetime) -> tuple[list[str], bool]:
    """What the till's last status report says is wrong, and whether that is red."""
    if report is None:
        return [], False
    reasons = []
    silent = now - _when(report["sent_at"])
    if silent > STATUS_AMBER_AFTER:
        reasons.append(f"no status report for {_age(silent)}")
    backlog = report["backlog"]
    if backlog and report["oldest_unacked_at"]:
        waiting = now - _when(report["oldest_unacked_at"])
        if waiting > BACKLOG_AMBER_AFTER:
            reasons.append(f"backlog of {backlog} ticket(s) reported, the oldest waiting for {_age(waiting)}")
    return reasons, bool(backlog) and silent > STATUS_RED_AFTER


def _ago(delta: timedelta) -> str:
    hours = int(delta.total_seconds() // 3600)
    return f"{hours // 24} day(s)" if hours >= 48 else f"{hours} hour(s)"


def dead_letters(conn: Connection, limit: int = 200) -> list[dict]:
    """The latest dead letters, each with its replay (when, which ticket, outcome) if it was replayed."""
    cur = conn.execute(
        "SELECT d.id, d.received_at, d.topic, d.terminal, d.seq, d.reason, length(d.payload), r.replayed_at, "
        "r.outcome FROM dead_letters d LEFT JOIN dead_letter_replays r ON r.dead_letter_id = d.id "
        "ORDER BY d.id DESC LIMIT ?",
        (limit,),
    )
    names = ("id", "received_at", "topic", "terminal", "seq", "reason", "size", "replayed_at", "outcome")
    return [dict(zip(names, row)) for row in cur]
