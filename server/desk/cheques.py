"""Loyalty cheques on a schedule: when the rules say `[cheques] issue = "schedule"`, every card whose
balance reaches the threshold gets its cheques as one `redeem` ledger entry; the remainder is carried.

Idempotent: the entry's cause is `cheques:{card}:{date}`, so running the job twice on a day adds nothing.
Each cheque is recorded in the cheque book (server/desk/cheque_book.py) with a serial numbered by the entry.
"""

from __future__ import annotations

from datetime import date, datetime, time, timezone

from programme.money import format_cents
from programme.redemption import issue_cheques
from programme.rules import RuleSet
from server.storage.connection import Connection, transaction

from server.desk.cheque_book import issue_scheduled


def run_cheques(conn: Connection, rules: RuleSet, as_of: date) -> dict:
    """Issue the cheques due on `as_of`; returns counts (and why nothing was issued, when so)."""
    summary = {"as_of": as_of.isoformat(), "rules_version": rules.version, "cards": 0, "cheques": 0, "cents": 0}
    cheques = rules.cheques
    if cheques is None or cheques.issue != "schedule":
        how = "no cheques" if cheques is None else f'cheques at the till ([cheques] issue = "{cheques.issue}")'
        return {**summary, "note": f"rules {rules.version} issue {how}: nothing to do"}
    at = datetime.combine(as_of, time(), timezone.utc).isoformat()
    rows = []
    # Balances from card_points (kept by the database as the ledger changes), not a sum over the whole ledger.
    for card, balance in conn.execute(
        "SELECT card, points FROM card_points WHERE points >= ? ORDER BY card", (cheques.threshold_points,)
    ).fetchall():
        issue = issue_cheques(rules, balance)
        rows.append(
            (
                card,
                -issue.points,
                f"loyalty cheque: {issue.count} x {format_cents(issue.cents)} EUR",
                f"cheques:{card}:{as_of.isoformat()}",
                at,
                issue.count,
            )
        )
    with transaction(conn):
        for card, points, rule, cause, when, count in rows:
            cur = conn.execute(
                "INSERT OR IGNORE INTO ledger (card, kind, points, rule, cause, ticket_id, at) "
                "VALUES (?, 'redeem', ?, ?, ?, NULL, ?)",
                (card, points, rule, cause, when),
            )
            if cur.rowcount:
                entry_id = conn.execute("SELECT id FROM ledger WHERE cause = ?", (cause,)).fetchone()[0]
                issue_scheduled(conn, card, entry_id, count, cheques.cheque_cents, datetime.fromisoformat(when))
                summary["cards"] += 1
                summary["cheques"] += count
                summary["cents"] += count * cheques.cheque_cents
    return summary
