"""Loyalty cheques at head office: every cheque with its serial, value, card, issue and expiry dates and state
(issued, spent, expired, cancelled), from the tickets that issue and spend them.

A till issues cheques on a ticket (a `loyalty cheque: N x 5.00 EUR` redeem entry, or a return's refund as a
negative `cheque` tender) and mints their serials itself (programme.redemption.cheque_serial, from the ticket's
till and sequence): ingest records them here. A ticket that pays with a cheque names its serial on the `cheque`
tender: ingest checks it (known, this card's, not expired, not cancelled, worth what it paid, not spent yet)
and marks it spent; anything else is a discrepancy naming the ticket, and a second spend names both tickets.
Online, a till asks first (`check_for_till`, through server/ingest/answers.py): head office refuses with the reason,
or holds the cheque for that till a short while so two tills online cannot both take it.
Runs inside the ingest transaction, on SQLite and PostgreSQL alike (times are UTC ISO text on both).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from programme.cardnumber import mask_card_number
from programme.errors import RedemptionError
from programme.i18n import N_, _, format_date, local_time
from programme.money import format_cents
from programme.redemption import CHEQUE_VALIDITY, cheque_serial, cheques_issued, cheques_of_entry, read_cheque_serial
from programme.ticket import Ticket

from server.storage.connection import transaction
from server.storage.sql import lock_key
from server.storage.tables import iso

HOLD = timedelta(minutes=2)  # a cheque a till asked about is kept for it this long (the cashier is paying)
STATES = ("issued", "spent", "expired", "cancelled")
FLAG_INSERT = (
    "INSERT INTO discrepancies (ticket_id, card, rules_version, till_points, server_points, reason, "
    "detected_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (ticket_id) DO UPDATE SET "
    "reason = discrepancies.reason || '; ' || excluded.reason"
)


class ChequeRefused(RedemptionError):
    """Head office refuses a cheque a till asked about; the message is the cashier's, `code` and `params` the
    same for a till to show in its own language (CHEQUE_REFUSALS)."""

    def __init__(self, message: str, code: str | None = None, params: dict | None = None):
        super().__init__(message)
        self.code, self.params = code, params or {}


@dataclass(frozen=True)
class Cheque:
    serial: str
    card: str
    cents: int
    issued_at: datetime
    expires_at: datetime
    state: str  # as stored: issued, spent or cancelled (expired is `state_at`'s)
    issue_ticket: str | None = None
    spent_ticket: str | None = None
    spent_at: datetime | None = None
    held_by: str | None = None
    held_until: datetime | None = None

    def state_at(self, now: datetime) -> str:
        """issued, spent, expired (issued and past its date) or cancelled."""
        return "expired" if self.state == "issued" and now >= self.expires_at else self.state


COLUMNS = "serial, card, cents, issued_at, expires_at, state, issue_ticket, spent_ticket, spent_at, held_by, held_until"


def _time(value) -> datetime | None:
    if value is None:
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _cheque(row) -> Cheque:
    serial, card, cents, issued, expires, state, issue_ticket, spent_ticket, spent_at, held_by, held_until = row
    return Cheque(
        serial,
        card,
        cents,
        _time(issued),
        _time(expires),
        state,
        issue_ticket,
        spent_ticket,
        _time(spent_at),
        held_by,
        _time(held_until),
    )


def find(conn, serial: str) -> Cheque | None:
    row = conn.execute(f"SELECT {COLUMNS} FROM cheques WHERE serial = ?", (serial,)).fetchone()
    return _cheque(row) if row else None


# -- issue ---------------------------------------------------------------------------------------------
def _insert(conn, serial: str, card: str, cents: int, at: datetime, ticket_id: str | None) -> None:
    """Record an issued cheque; one a ticket already spent (its issue reached head office after) is spent."""
    conn.execute(
        "INSERT OR IGNORE INTO cheques (serial, card, cents, issued_at, expires_at, issue_ticket, state) "
        "VALUES (?, ?, ?, ?, ?, ?, 'issued')",
        (
            serial,
            card,
            cents,
            iso(at.astimezone(timezone.utc)),
            iso((at + CHEQUE_VALIDITY).astimezone(timezone.utc)),
            ticket_id,
        ),
    )
    first = conn.execute(
        "SELECT ticket_id, at FROM cheque_spends WHERE serial = ? ORDER BY at, ticket_id LIMIT 1", (serial,)
    ).fetchone()
    if first is not None:
        conn.execute(
            "UPDATE cheques SET state = 'spent', spent_ticket = ?, spent_at = ? WHERE serial = ? AND state = 'issued'",
            (first[0], first[1], serial),
        )


def issue_scheduled(conn, card: str, entry_id: int, count: int, cents: int, at: datetime) -> list[str]:
    """Head office's own cheques (server/desk/cheques.py): store 0, till 0, numbered by their ledger entry's id."""
    serials = [cheque_serial("S00000-T000", entry_id, rank, cents) for rank in range(count)]
    for serial in serials:
        _insert(conn, serial, card, cents, at, None)
    return serials


# -- ingest --------------------------------------------------------------------------------------------
def _flag(ticket: Ticket, reasons: list[str], now: str) -> tuple:
    earned = ticket.points_earned
    return (ticket.id, ticket.card, ticket.rules_version, earned, earned, "; ".join(reasons), now)


def _spend(conn, ticket: Ticket, n: int, serial: str | None, cents: int, now: str) -> list[str]:
    """Check one cheque tender of a stored ticket and mark the cheque spent; the reasons it is wrong, if any."""
    if not serial:
        return [
            f"a loyalty cheque tender of {format_cents(cents)} EUR carries no serial: head office cannot tell "
            "which cheque paid"
        ]
    at = ticket.closed_at.astimezone(timezone.utc)
    conn.execute(
        "INSERT OR IGNORE INTO cheque_spends (ticket_id, n, serial, card, cents, at) VALUES (?, ?, ?, ?, ?, ?)",
        (ticket.id, n, serial, ticket.card, cents, iso(at)),
    )
    cheque = find(conn, serial)
    if cheque is None:
        try:
            read_cheque_serial(serial)
        except RedemptionError:
            return [f"cheque {serial} is not a cheque serial (wrong length or check digit)"]
        return [f"cheque {serial} is not known to head office: not issued, or its till has not synced yet"]
    reasons = []
    if cheque.state == "spent" and cheque.spent_ticket != ticket.id:
        reasons.append(f"cheque {serial} spent twice: tickets {cheque.spent_ticket} and {ticket.id}")
    if cheque.state == "cancelled":
        reasons.append(f"cheque {serial} was cancelled before ticket {ticket.id} took it")
    if cheque.card != ticket.card:
        reasons.append(
            f"cheque {serial} was issued to card {mask_card_number(cheque.card)}, spent on "
            f"{mask_card_number(ticket.card) if ticket.card else 'a ticket without a card'}"
        )
    if at >= cheque.expires_at:
        reasons.append(
            f"cheque {serial} expired on {cheque.expires_at.date().isoformat()}, spent on {at.date().isoformat()}"
        )
    if cents > cheque.cents:
        reasons.append(f"cheque {serial} is worth {format_cents(cheque.cents)} EUR, it paid {format_cents(cents)} EUR")
    if cheque.state == "issued":
        conn.execute(
            "UPDATE cheques SET state = 'spent', spent_ticket = ?, spent_at = ?, held_by = NULL, "
            "held_until = NULL WHERE serial = ? AND state = 'issued'",
            (ticket.id, iso(at), serial),
        )
    return reasons


def _refund_past_cheques(conn, ticket: Ticket, cents: int) -> list[str]:
    """A return refunds in a cheque at most what its original took in cheques, all its returns together."""
    from sync.codec import read_stored_ticket

    originals = sorted({link.original for link in ticket.returns}) if ticket.returns else []
    if not originals:
        return [f"a refund cheque of {format_cents(cents)} EUR on a ticket that returns nothing"]
    row = conn.execute("SELECT payload FROM tickets WHERE id = ?", (originals[0],)).fetchone()
    if row is None:
        return [
            f"a refund cheque of {format_cents(cents)} EUR for {originals[0]}, which head office does not hold (yet)"
        ]
    took = sum(t.cents for t in read_stored_ticket(bytes(row[0])).tenders if t.kind == "cheque" and t.cents > 0)
    before = int(
        conn.execute(
            "SELECT coalesce(sum(cents), 0) FROM cheques WHERE issue_ticket <> ? AND issue_ticket "
            "IN (SELECT return_id FROM returned_lines WHERE original_id = ?)",
            (ticket.id, originals[0]),
        ).fetchone()[0]
    )
    if cents + before > took:
        return [
            f"refund cheque of {format_cents(cents)} EUR: {originals[0]} took {format_cents(took)} EUR in "
            f"cheques and {format_cents(before)} EUR were refunded before"
        ]
    return []


def record_cheques(conn, tickets: list[Ticket], now: str) -> int:
    """Inside the ingest transaction: record the cheques the stored tickets issue, check and mark those they
    spend, flag what is wrong in `discrepancies`. Returns how many tickets were flagged."""
    touching = [
        t
        for t in tickets
        if any(tender.kind == "cheque" for tender in t.tenders)
        or any(e.kind == "redeem" and cheques_of_entry(e.rule) for e in t.points)
    ]
    if not touching:
        return 0
    flags = []
    for ticket in touching:
        reasons = []
        if ticket.card:
            for serial, cents in cheques_issued(ticket):
                _insert(conn, serial, ticket.card, cents, ticket.closed_at, ticket.id)
        elif any(t.kind == "cheque" and t.cents < 0 for t in ticket.tenders):
            reasons.append("a loyalty cheque refunded on a ticket without a card")
        issued = dict(cheques_issued(ticket)) if ticket.card else {}
        for n, tender in enumerate(ticket.tenders):
            if tender.kind != "cheque":
                continue
            serial = tender.serial if isinstance(tender.serial, str) else None
            if tender.cents < 0:
                if serial not in issued:
                    reasons.append(
                        f"the refund cheque {serial or '(no serial)'} is not the serial of this return's cheque"
                    )
                reasons.extend(_refund_past_cheques(conn, ticket, -tender.cents))
                continue
            reasons.extend(_spend(conn, ticket, n, serial, tender.cents, now))
        if reasons:
            flags.append(_flag(ticket, reasons, now))
    conn.executemany(FLAG_INSERT, flags)
    return len(flags)


# -- a till asks ---------------------------------------------------------------------------------------
CHEQUE_REFUSALS = {  # code -> the cashier's message; `day` a local day, ISO (the till shows codes, terminal/answers.py)
    "cheque_unknown": N_(
        "loyalty cheque {serial} is not known to head office: check the digits, or take another tender"
    ),
    "cheque_cancelled": N_("loyalty cheque {serial} was cancelled at the welcome desk: it can no longer be spent"),
    "cheque_spent": N_(
        "loyalty cheque {serial} was already spent on {day} (ticket {ticket}): keep it and send the "
        "customer to the welcome desk"
    ),
    "cheque_other_card": N_(
        "loyalty cheque {serial} was issued to another card ({card}): identify that card (F2) to spend it"
    ),
    "cheque_expired": N_("loyalty cheque {serial} expired on {day}: it can no longer be spent"),
    "cheque_held": N_("loyalty cheque {serial} is being spent at till {till}: a cheque pays once"),
}


def refusal_code(
    cheque: Cheque | None, serial: str, card: str, terminal: str, now: datetime
) -> tuple[str, dict] | None:
    """Why a till may not take this cheque on a ticket of `card` now: a code of CHEQUE_REFUSALS and its
    parameters, or None."""
    if cheque is None:
        return "cheque_unknown", {"serial": serial}
    if cheque.state == "cancelled":
        return "cheque_cancelled", {"serial": serial}
    if cheque.state == "spent":
        day = local_time(cheque.spent_at).date().isoformat()
        return "cheque_spent", {"serial": serial, "day": day, "ticket": cheque.spent_ticket}
    if cheque.card != card:
        return "cheque_other_card", {"serial": serial, "card": mask_card_number(cheque.card)}
    if cheque.state_at(now) == "expired":
        return "cheque_expired", {"serial": serial, "day": local_time(cheque.expires_at).date().isoformat()}
    if cheque.held_by and cheque.held_by != terminal and cheque.held_until and cheque.held_until > now:
        return "cheque_held", {"serial": serial, "till": cheque.held_by}
    return None


def refusal_text(code: str, params: dict) -> str:
    """A refusal's code in the current language (dates as people read them)."""
    shown = {k: format_date(date.fromisoformat(v)) if k == "day" else v for k, v in params.items()}
    return _(CHEQUE_REFUSALS[code]).format(**shown)


def refusal(cheque: Cheque | None, serial: str, card: str, terminal: str, now: datetime) -> str | None:
    """Why a till may not take this cheque on a ticket of `card` now (in the cashier's words), or None."""
    found = refusal_code(cheque, serial, card, terminal, now)
    return None if found is None else refusal_text(*found)


def check_for_till(conn, terminal: str, serial: str, card: str, now: datetime) -> Cheque:
    """May `terminal` take this cheque on a ticket of `card`? The cheque, held for it for HOLD; else
    ChequeRefused with the cashier's message. Commits its own transaction."""
    serial = serial.strip()
    with transaction(conn):
        lock_key(conn, f"cheque:{serial}")
        cheque = find(conn, serial)
        found = refusal_code(cheque, serial, card, terminal, now)
        if found is None:
            conn.execute(
                "UPDATE cheques SET held_by = ?, held_until = ? WHERE serial = ?", (terminal, iso(now + HOLD), serial)
            )
    if found is not None:
        raise ChequeRefused(refusal_text(*found), *found)
    return cheque


def cancel(conn, serial: str, note: str) -> bool:
    """The desk cancels a cheque not spent yet (lost, reissued...): True when it was."""
    return (
        conn.execute(
            "UPDATE cheques SET state = 'cancelled', note = ? WHERE serial = ? AND state = 'issued'", (note, serial)
        ).rowcount
        > 0
    )


# -- what head office sees -----------------------------------------------------------------------------
def summary(conn, now: datetime | None = None) -> dict:
    """Cheques issued, spent, expired, cancelled and still in circulation (count and cents): the outstanding
    ones are money the programme owes, counted in the points liability."""
    stamp = iso((now or datetime.now(timezone.utc)).astimezone(timezone.utc))
    out = {state: {"count": 0, "cents": 0} for state in ("issued", "spent", "expired", "cancelled", "outstanding")}
    for state, count, cents in conn.execute(
        "SELECT CASE WHEN state = 'issued' AND expires_at <= ? THEN 'expired' "
        "WHEN state = 'issued' THEN 'outstanding' ELSE state END, count(*), coalesce(sum(cents), 0) "
        "FROM cheques GROUP BY 1",
        (stamp,),
    ).fetchall():
        out[state] = {"count": count, "cents": int(cents)}
    out["issued"] = {
        "count": sum(v["count"] for k, v in out.items() if k != "issued"),
        "cents": sum(v["cents"] for k, v in out.items() if k != "issued"),
    }
    return out


def outstanding_cents(conn, now: datetime | None = None) -> int:
    """The value of the cheques still in circulation (issued, not spent, expired or cancelled)."""
    return summary(conn, now)["outstanding"]["cents"]


def spent_twice(conn, limit: int = 100) -> list[dict]:
    """Serials more than one ticket paid with, newest first, with every ticket that took them."""
    rows = conn.execute(
        "SELECT serial, ticket_id, card, cents, at FROM cheque_spends WHERE serial IN "
        "(SELECT serial FROM cheque_spends GROUP BY serial HAVING count(DISTINCT ticket_id) > 1) "
        "ORDER BY serial, at, ticket_id"
    ).fetchall()
    found: dict[str, dict] = {}
    for serial, ticket_id, card, cents, at in rows:
        item = found.setdefault(
            serial, {"serial": serial, "card": card, "cents": int(cents), "tickets": [], "last": at}
        )
        if ticket_id not in item["tickets"]:
            item["tickets"].append(ticket_id)
        item["last"] = max(item["last"], at)
    return sorted(found.values(), key=lambda i: i["last"], reverse=True)[:limit]
