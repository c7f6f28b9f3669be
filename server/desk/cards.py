"""Loyalty cards at the desk: issue, block and unblock, replace a lost or stolen card, merge two customers.

Every action writes an audit entry (who, when, why); a replacement moves the old card's balance to the
new card with 'transfer' ledger entries whose cause names the audit entry, so replaying is harmless: one out
of the old card and one into the new card per lot moved, which keeps its date (server.desk.lots), so the points
expire when they would have on the old card.
"""

from __future__ import annotations


from programme.cardnumber import DEFAULT_PREFIXES, validate_card_number
from programme.errors import CardNumberError

from server.desk import audit, bounds, lots
from programme.i18n import N_, _

from server.desk.errors import Conflict, InvalidInput, NotFound
from server.storage.desk_db import transaction, utc_now
from server.storage.connection import Connection

HOT_STATUSES = ("blocked", "lost", "stolen")
REPLACE_REASONS = ("lost", "stolen", "damaged")
# How a refusal names what was asked (the audit's action names are not words people read).
ACTIONS = {"block_card": N_("block card"), "unblock_card": N_("unblock card")}


def check_number(number: str, prefixes: tuple[str, ...] = DEFAULT_PREFIXES) -> str:
    try:
        return validate_card_number(number, prefixes)
    except CardNumberError as exc:
        raise InvalidInput(str(exc)) from None


def get_card(conn: Connection, number: str) -> dict:
    row = conn.execute("SELECT * FROM cards WHERE number = ?", (number,)).fetchone()
    if row is None:
        raise NotFound(_("card {number} is not registered: issue it to a customer first").format(number=number))
    return dict(row)


def card_balance(conn: Connection, number: str) -> int:
    """The card's balance: its ledger's sum, kept in `card_points` by the database (server/ingest/store.py)."""
    row = conn.execute("SELECT points FROM card_points WHERE card = ?", (number,)).fetchone()
    return row[0] if row else 0


def _live_customer(conn, customer_id: int) -> dict:
    row = conn.execute("SELECT * FROM customers WHERE id = ?", (customer_id,)).fetchone()
    if row is None:
        raise NotFound(_("no customer {id}: search for the customer by name, card or phone").format(id=customer_id))
    if row["merged_into"]:
        raise Conflict(
            _("customer {id} was merged into customer {into}: use that one").format(
                id=customer_id, into=row["merged_into"]
            )
        )
    if row["erased_at"]:
        raise Conflict(_("customer {id} was erased: enrol the person again").format(id=customer_id))
    return dict(row)


def _register(conn, customer_id: int, number: str) -> int:
    existing = conn.execute("SELECT customer_id FROM cards WHERE number = ?", (number,)).fetchone()
    if existing:
        raise Conflict(
            _("card {number} is already registered to customer {id}: give the customer another card").format(
                number=number, id=existing[0]
            )
        )
    now = utc_now()
    conn.execute(
        "INSERT INTO cards (number, customer_id, status, issued_at, status_at) VALUES (?, ?, 'active', ?, ?)",
        (number, customer_id, now, now),
    )
    return conn.execute("SELECT count(*) FROM tickets WHERE card = ?", (number,)).fetchone()[0]


def issue(
    conn: Connection, customer_id: int, number: str, actor: str, prefixes: tuple[str, ...] = DEFAULT_PREFIXES
) -> int:
    """Register a card to a customer; returns how many earlier (anonymous) tickets now attach to them."""
    number = check_number(number, prefixes)
    with transaction(conn):
        _live_customer(conn, customer_id)
        attached = _register(conn, customer_id, number)
        audit.record(
            conn, actor, "issue_card", customer_id=customer_id, card=number, detail={"attached_tickets": attached}
        )
    return attached


def _set_status(
    conn, number: str, allowed_from: tuple[str, ...], status: str, action: str, reason: str, actor: str
) -> dict:
    reason = reason.strip()
    if not reason:
        raise InvalidInput(_("a reason is required to {action}: say why").format(action=_(ACTIONS.get(action, action))))
    with transaction(conn):
        card = get_card(conn, number)
        if card["status"] not in allowed_from:
            raise Conflict(
                _("card {number} is {status}: it cannot be {wanted} now").format(
                    number=number, status=_(card["status"]), wanted=_(status)
                )
            )
        conn.execute("UPDATE cards SET status = ?, status_at = ? WHERE number = ?", (status, utc_now(), number))
        audit.record(conn, actor, action, customer_id=card["customer_id"], card=number, reason=reason)
    return card


def block(conn: Connection, number: str, reason: str, actor: str) -> dict:
    """Put a card on the hot-list (tills refuse it) until unblocked."""
    return _set_status(conn, number, ("active",), "blocked", "block_card", reason, actor)


def unblock(conn: Connection, number: str, reason: str, actor: str) -> dict:
    return _set_status(conn, number, ("blocked",), "active", "unblock_card", reason, actor)


def replace(
    conn: Connection, old: str, new: str, why: str, actor: str, prefixes: tuple[str, ...] = DEFAULT_PREFIXES
) -> int:
    """Hot-list the old card, issue the new one to the same customer, move the balance. Returns points moved."""
    if why not in REPLACE_REASONS:
        raise InvalidInput(
            _("replacement reason {why!r} is not one of {reasons}").format(why=why, reasons=", ".join(REPLACE_REASONS))
        )
    new = check_number(new, prefixes)
    if new == old:
        raise Conflict(_("card {number} cannot replace itself: scan the new card").format(number=new))
    with transaction(conn):
        card = get_card(conn, old)
        if card["status"] not in ("active", "blocked"):
            raise Conflict(
                _("card {number} is {status}: only an active or blocked card can be replaced").format(
                    number=old, status=_(card["status"])
                )
            )
        customer_id = card["customer_id"]
        _live_customer(conn, customer_id)
        attached = _register(conn, customer_id, new)
        conn.execute(
            "UPDATE cards SET status = ?, status_at = ?, replaced_by = ? WHERE number = ?", (why, utc_now(), new, old)
        )
        points = card_balance(conn, old)
        entry = audit.record(
            conn,
            actor,
            "replace_card",
            customer_id=customer_id,
            card=old,
            reason=why,
            detail={"new_card": new, "points": points, "attached_tickets": attached},
        )
        if points:
            lots.move(
                conn,
                old,
                new,
                points,
                f"desk:{entry}",
                utc_now(),
                f"card {why}: balance moved to {new}",
                f"card {why}: balance moved from {old}",
            )
    return points


def merge(conn: Connection, into_id: int, from_id: int, actor: str, reason: str = "") -> int:
    """Move every card of `from_id` to `into_id` (their tickets and ledger follow); returns cards moved."""
    if into_id == from_id:
        raise Conflict(_("cannot merge customer {id} into itself: choose two different customers").format(id=into_id))
    with transaction(conn):
        _live_customer(conn, into_id)
        _live_customer(conn, from_id)
        moved = [r[0] for r in conn.execute("SELECT number FROM cards WHERE customer_id = ?", (from_id,))]
        conn.execute("UPDATE cards SET customer_id = ? WHERE customer_id = ?", (into_id, from_id))
        conn.execute("UPDATE customers SET merged_into = ?, updated_at = ? WHERE id = ?", (into_id, utc_now(), from_id))
        detail = {"into": into_id, "from": from_id, "cards": moved}
        audit.record(conn, actor, "merge_into", customer_id=into_id, reason=reason, detail=detail)
        audit.record(conn, actor, "merged_away", customer_id=from_id, reason=reason, detail=detail)
    return len(moved)


def transfer_points(
    conn: Connection,
    source: str,
    target: str,
    points,
    reason: str,
    actor: str,
    prefixes: tuple[str, ...] = DEFAULT_PREFIXES,
) -> int:
    """Move points between two registered cards (one household, a card given up): two 'transfer' entries."""
    points = bounds.points_change(points)
    reason = (reason or "").strip()
    if points <= 0:
        raise InvalidInput(_("points to transfer must be positive: swap the cards to move points the other way"))
    if not reason:
        raise InvalidInput(_("a reason is required to transfer points: say why"))
    target = check_number(target, prefixes)
    if target == source:
        raise Conflict(
            _("card {number} cannot transfer points to itself: type the other card's number").format(number=source)
        )
    with transaction(conn):
        from_card, to_card = get_card(conn, source), get_card(conn, target)
        if to_card["status"] != "active":
            raise Conflict(
                _("card {number} is {status}: points go to an active card only").format(
                    number=target, status=_(to_card["status"])
                )
            )
        balance = card_balance(conn, source)
        if points > balance:
            raise Conflict(
                _("card {number} has {balance} points: it cannot transfer {points}").format(
                    number=source, balance=balance, points=points
                )
            )
        entry = audit.record(
            conn,
            actor,
            "transfer_points",
            customer_id=from_card["customer_id"],
            card=source,
            reason=reason,
            detail={"to_card": target, "to_customer": to_card["customer_id"], "points": points},
        )
        if to_card["customer_id"] != from_card["customer_id"]:
            audit.record(
                conn,
                actor,
                "transfer_points",
                customer_id=to_card["customer_id"],
                card=target,
                reason=reason,
                detail={"from_card": source, "points": points},
            )
        lots.move(
            conn,
            source,
            target,
            points,
            f"desk:{entry}",
            utc_now(),
            f"transfer to {target}: {reason}",
            f"transfer from {source}: {reason}",
        )
    return points


def hotlist(conn: Connection) -> list[dict]:
    """Cards the tills must refuse: blocked, lost or stolen."""
    return [
        dict(r)
        for r in conn.execute(
            f"SELECT number AS card, status, status_at AS since FROM cards "
            f"WHERE status IN ({', '.join('?' * len(HOT_STATUSES))}) "
            "ORDER BY number",
            HOT_STATUSES,
        )
    ]


def anonymous_cards(conn: Connection, limit: int = 100) -> list[dict]:
    """Card numbers seen on tickets but not registered yet: their tickets wait for a customer."""
    return [
        dict(r)
        for r in conn.execute(
            "SELECT card, count(*) AS tickets, max(closed_at) AS last_seen FROM tickets t WHERE card IS NOT NULL "
            "AND NOT EXISTS (SELECT 1 FROM cards c WHERE c.number = t.card) GROUP BY card "
            "ORDER BY last_seen DESC LIMIT ?",
            (limit,),
        )
    ]
