"""Points corrections at the desk and the customer's statement of the ledger over a period.

An adjustment is one new 'adjust' ledger entry (nothing is updated), caused by an audit entry
('desk:<audit id>') that says who made it and why.
"""

from __future__ import annotations

from datetime import date, timedelta

from server.desk import audit, bounds
from server.desk.cards import card_balance
from server.desk.customers import _in, card_numbers, get
from server.desk.errors import Conflict, InvalidInput, NotFound
from programme.i18n import _
from server.storage.desk_db import transaction, utc_now
from server.storage.connection import Connection


def adjust(conn: Connection, customer_id: int, card: str | None, points, reason: str, actor: str) -> int:
    """Add (or take) points on one of the customer's cards with a mandatory reason; returns the ledger id."""
    points = bounds.points_change(points)
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(_("a reason is required for a points adjustment: say why (e.g. till error on ticket ...)"))
    with transaction(conn):
        customer = get(conn, customer_id)
        if customer["erased_at"] or customer["merged_into"]:
            raise Conflict(_("customer {id} is erased or merged: points cannot be adjusted").format(id=customer_id))
        if not card:
            row = conn.execute(
                "SELECT number FROM cards WHERE customer_id = ? AND status = 'active' ORDER BY issued_at DESC LIMIT 1",
                (customer_id,),
            ).fetchone()
            if row is None:
                raise Conflict(_("customer {id} has no active card: issue a card first").format(id=customer_id))
            card = row[0]
        if card not in card_numbers(conn, customer_id):
            raise NotFound(_("card {number} is not one of customer {id}'s cards").format(number=card, id=customer_id))
        balance = card_balance(conn, card)
        if balance + points < 0:
            raise Conflict(
                _(
                    "adjustment of {points} points would take card {number} below zero (balance {balance}): "
                    "take at most {balance} points"
                ).format(points=points, number=card, balance=balance)
            )
        entry = audit.record(
            conn,
            actor,
            "adjust",
            customer_id=customer_id,
            card=card,
            reason=reason,
            detail={"points": points, "balance_before": balance},
        )
        ledger_id = conn.execute(
            "INSERT INTO ledger (card, kind, points, rule, cause, ticket_id, at) "
            "VALUES (?, 'adjust', ?, ?, ?, NULL, ?) RETURNING id",
            (card, points, f"desk adjustment: {reason}", f"desk:{entry}", utc_now()),
        ).fetchone()[0]
    return ledger_id


def parse_day(value: str, what: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except (ValueError, AttributeError):
        raise InvalidInput(
            _("{what} {value!r} is not a date: use YYYY-MM-DD").format(what=_(what), value=value)
        ) from None


def statement(conn: Connection, customer_id: int, start: date, end: date) -> dict:
    """Opening balance, every ledger entry from `start` to `end` (UTC days, inclusive), closing balance."""
    if end < start:
        raise InvalidInput(
            _("the period ends ({end}) before it starts ({start}): swap the dates").format(end=end, start=start)
        )
    customer = get(conn, customer_id)
    numbers = card_numbers(conn, customer_id)
    lo, hi = start.isoformat(), (end + timedelta(days=1)).isoformat()
    if numbers:
        opening = conn.execute(
            f"SELECT coalesce(sum(points), 0) FROM ledger WHERE card IN ({_in(numbers)}) AND at < ?", (*numbers, lo)
        ).fetchone()[0]
        entries = [
            dict(r)
            for r in conn.execute(
                f"SELECT * FROM ledger WHERE card IN ({_in(numbers)}) AND at >= ? AND at < ? ORDER BY at, id",
                (*numbers, lo, hi),
            )
        ]
    else:
        opening, entries = 0, []
    running = opening
    for e in entries:
        running += e["points"]
        e["running"] = running
    return {
        "customer": customer,
        "start": start,
        "end": end,
        "opening": opening,
        "entries": entries,
        "credits": sum(e["points"] for e in entries if e["points"] > 0),
        "debits": sum(e["points"] for e in entries if e["points"] < 0),
        "closing": running,
    }
