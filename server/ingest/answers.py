"""Head office answers a till's requests: a card's balance (for a card this till never sold to), a
ticket (for a return, with what was already returned of each line, all tills together), and a
reservation of points before the till spends them (server.ingest.reservations) or its release, a loyalty cheque
before the till takes it (server.desk.cheque_book), a customer's card by phone number. Balances and
tickets are reads only; the SQL runs on SQLite and, through the `?` adapter, on PostgreSQL (a database
the desk never opened has no desk tables: no name, no registration there).
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone

import msgspec

from programme.cardnumber import mask_card_number
from programme.ticket import store_of
from sync.events import log_event
from sync.requests import (
    BalanceRequest,
    CardInfo,
    ChequeInfo,
    ChequeRequest,
    CustomerMatch,
    PhoneRequest,
    ReleaseRequest,
    Reply,
    Request,
    Reservation,
    ReserveRequest,
    TicketRequest,
)

from server.ingest import reservations

from server.ingest.returns_check import returned_quantities
from server.ingest.store import balances_seen_by
from server.storage.connection import WRITE_ERRORS

log = logging.getLogger("loyalty.uplink")


def refused(request: Request, kind: str, message: str, code: str, params: dict, **fields) -> Reply:
    """A reply with `found` false: `message` in English for every till; its code and parameters too when the
    till's request says it reads them (a till shows them in its cashier's language, terminal/answers.py), never
    to an older till, which refuses a reply with fields it does not know."""
    if request.codes:
        fields.update(code=code, params=params)
    return Reply(schema=1, id=request.id, kind=kind, found=False, message=message, **fields)


def answer(conn, terminal: str, request: Request, now: datetime | None = None) -> Reply:
    now = now or datetime.now(timezone.utc)
    if isinstance(request, BalanceRequest):
        return answer_balance(conn, terminal, request)
    if isinstance(request, ReserveRequest):
        return answer_reserve(conn, terminal, request, now)
    if isinstance(request, ReleaseRequest):
        freed = reservations.release(conn, terminal, request.reservation, now)
        if freed:
            return Reply(schema=1, id=request.id, kind="release", found=True)
        return refused(
            request,
            "release",
            f"reservation {request.reservation} is not held by this till",
            "release_not_held",
            {"reservation": request.reservation},
        )
    if isinstance(request, ChequeRequest):
        return answer_cheque(conn, terminal, request, now)
    if isinstance(request, PhoneRequest):
        return answer_phone(conn, request)
    return answer_ticket(conn, terminal, request)


def answer_cheque(conn, terminal: str, request: ChequeRequest, now: datetime) -> Reply:
    """May the till take this loyalty cheque? Granted, head office holds it for that till (server/desk/cheque_book)."""
    from server.desk.cheque_book import ChequeRefused, check_for_till

    try:
        cheque = check_for_till(conn, terminal, request.serial, request.card, now)
    except ChequeRefused as exc:
        log_event(log, "cheque_refused", terminal=terminal, serial=request.serial, reason=str(exc))
        if request.codes and exc.code:  # the till shows the code in its language; the message in English
            from programme.i18n import use_language

            from server.desk.cheque_book import refusal_text

            with use_language("en"):
                message = refusal_text(exc.code, exc.params)
            return refused(request, "cheque", message, exc.code, exc.params)
        return Reply(schema=1, id=request.id, kind="cheque", found=False, message=str(exc))
    return Reply(
        schema=1,
        id=request.id,
        kind="cheque",
        found=True,
        cheque=ChequeInfo(serial=cheque.serial, cents=cheque.cents, card=cheque.card, expires_at=cheque.expires_at),
    )


def answer_phone(conn, request: PhoneRequest) -> Reply:
    """The card of the customer with this phone number, when the customer consented (server/desk/phone_lookup)."""
    from server.desk.phone_lookup import REFUSALS, find_by_phone, lookup

    if request.codes:  # a till that shows the code in its own language: the message in English, like the others
        found = lookup(conn, request.phone)
        if not isinstance(found, CustomerMatch):
            code, params = found
            return refused(request, "phone", REFUSALS[code].format(**params), code, params)
    else:  # an older till shows the message as it comes: in head office's language
        found = find_by_phone(conn, request.phone)
        if isinstance(found, str):
            return Reply(schema=1, id=request.id, kind="phone", found=False, message=found)
    return Reply(schema=1, id=request.id, kind="phone", found=True, customer=found)


def answer_reserve(conn, terminal: str, request: ReserveRequest, now: datetime) -> Reply:
    card = request.card
    outcome = reservations.reserve(conn, terminal, card, request.points, request.after_seq, request.id, now)
    log_event(
        log,
        "reservation_granted" if outcome.granted else "reservation_refused",
        terminal=terminal,
        card=mask_card_number(card),
        points=request.points,
        available=outcome.available,
    )
    if not outcome.granted:
        message = outcome.message or "reservation refused"
        return refused(
            request, "reserve", message, outcome.code or "reserve_refused", outcome.params, available=outcome.available
        )
    return Reply(
        schema=1,
        id=request.id,
        kind="reserve",
        found=True,
        available=outcome.available,
        reservation=Reservation(id=outcome.id, points=outcome.points, expires_at=outcome.expires_at),
    )


def _desk_card(conn, card: str) -> tuple[str, str | None] | None:
    """(card status, first name) when the desk registered the card; None otherwise or without desk tables."""
    try:
        row = conn.execute(
            "SELECT c.status, u.name, u.erased_at FROM cards c JOIN customers u ON u.id = c.customer_id "
            "WHERE c.number = ?",
            (card,),
        ).fetchone()
    except WRITE_ERRORS:  # no desk tables in this database (PostgreSQL ingest, or a bare store)
        return None
    if row is None:
        return None
    status, name, erased_at = row
    first = None if erased_at or not name else name.split()[0]
    return status, first


def _tier(conn, card: str) -> str | None:
    from server.desk.standing import standing

    try:
        return standing(conn, [card])["tier"]
    except Exception as exc:  # noqa: BLE001 - the balance matters more than the tier: answer without it
        log_event(log, "tier_unavailable", logging.WARNING, card=mask_card_number(card), reason=repr(exc))
        return None


def answer_balance(conn, terminal: str, request: BalanceRequest) -> Reply:
    card = request.card
    entries = conn.execute("SELECT count(*) FROM ledger WHERE card = ?", (card,)).fetchone()[0]
    known, seq = balances_seen_by(conn, terminal, [card])
    points = known.get(card, 0)
    desk = _desk_card(conn, card)
    sold = entries or conn.execute("SELECT 1 FROM tickets WHERE card = ? LIMIT 1", (card,)).fetchone()
    info = CardInfo(
        card=card,
        points=points,
        seq=seq,
        as_of=datetime.now(timezone.utc),
        registered=desk is not None,
        first_name=desk[1] if desk else None,
        tier=_tier(conn, card) if entries else None,
        status=desk[0] if desk else None,
    )
    if not sold and desk is None:
        masked = mask_card_number(card)
        return refused(
            request,
            "balance",
            f"card {masked} is not known to head office: never used, not registered",
            "card_unknown",
            {"card": masked},
            balance=info,
        )
    return Reply(schema=1, id=request.id, kind="balance", found=True, balance=info)


def answer_ticket(conn, terminal: str, request: TicketRequest) -> Reply:
    """The ticket, only to a till of the store that sold it: a return is taken where the sale was."""
    ticket_id = request.ticket_id.strip()
    row = conn.execute("SELECT payload, store FROM tickets WHERE id = ?", (ticket_id,)).fetchone()
    if row is not None and row[1] != store_of(terminal):
        return refused(
            request,
            "ticket",
            f"ticket {ticket_id} was sold in store {row[1]}: a return is taken in the store that "
            f"sold it; send the customer to store {row[1]}",
            "ticket_other_store",
            {"ticket": ticket_id, "store": row[1]},
        )
    if row is None:
        return refused(
            request,
            "ticket",
            f"ticket {ticket_id} is not at head office: check the number at the foot of the "
            "receipt; a ticket reaches head office when the till that sold it has synced",
            "ticket_not_at_head_office",
            {"ticket": ticket_id},
        )
    return Reply(
        schema=1,
        id=request.id,
        kind="ticket",
        found=True,
        ticket=msgspec.Raw(bytes(row[0])),
        returned=returned_quantities(conn, ticket_id),
    )
