"""A sale at the till: validate the card, compute the points, close the ticket in the journal."""

from __future__ import annotations

from programme.cardnumber import validate_card_number
from programme.ticket import Line, PointsEntry, Tender, Ticket, make_line, utc_now

from programme.campaign_offers import earn_with_offers
from programme.engine import local_day

from . import rules_store
from .journal import Journal
from .offers import offers_for_card


def known_tier(journal: Journal, card: str | None) -> str | None:
    """The card's tier as head office last said (its balance reply): offline, the last one the till knew."""
    if not card:
        return None
    row = journal.conn.execute("SELECT tier FROM known_balances WHERE card = ?", (card,)).fetchone()
    return row[0] if row else None


def points_now(journal: Journal, lines: list[Line], card: str | None):
    """Earn entries under the rules in force now, their version, and the time they were computed at.

    The ticket's opened_at is that time, so the server recomputes with the same rules and date. The card's
    tier is the one head office last gave (known_tier): the ticket carries it as a `tier:<name>` claim, and
    head office recomputes with the tier it knows for the card then (server/ingest/rules_check.py).
    The card's offers from head office (terminal/offers.py) are applied here: a bonus points offer
    through the rules engine, a cheque offer as its 0-point `offer:<campaign id>` entry; either only when the
    basket meets the offer's condition (some spend that earns points, of its category, up to its threshold).
    """
    at = utc_now()
    rules = rules_store.in_force(journal.conn, at)
    found = offers_for_card(journal.conn, card, local_day(rules, at), journal.store) if card else []
    points = earn_with_offers(
        lines, card, found, rules=rules, at=at, store=journal.store, tier=known_tier(journal, card)
    )
    return points, rules.version, at


def parse_line_spec(spec: str) -> Line:
    """`GTIN,QTY,UNIT_CENTS[,CATEGORY]` as typed on the command line."""
    from programme.errors import TicketError

    parts = spec.split(",")
    if len(parts) not in (3, 4):
        raise TicketError(f"line {spec!r} should be GTIN,QTY,UNIT_CENTS[,CATEGORY], e.g. 3017620422003,2,199")
    gtin, qty, unit = parts[:3]
    try:
        quantity, unit_cents = int(qty), int(unit)
    except ValueError:
        raise TicketError(f"line {spec!r}: quantity and unit price are whole numbers (price in cents)") from None
    if quantity < 1:
        raise TicketError(f"line {spec!r}: quantity must be 1 or more; a return goes through `loyalty till return`")
    return make_line(gtin.strip(), quantity, unit_cents, category=(parts[3].strip() if len(parts) == 4 else "grocery"))


def sell(
    journal: Journal, lines: list[Line], card: str | None = None, cashier: str = "cashier", tender_kind: str = "cash"
) -> Ticket:
    """Close one ticket paid in full by one tender. The card is checked before anything is written."""
    card = validate_card_number(card) if card else None
    total = sum(line.total_cents for line in lines)
    points, version, at = points_now(journal, lines, card)
    return journal.close_ticket(
        cashier=cashier,
        lines=lines,
        tenders=[Tender(kind=tender_kind, cents=total)],
        card=card,
        points=points,
        rules_version=version,
        opened_at=at,
    )


def _both(first, then):
    """Journal.close_ticket's `also`: `first`, then `then` when given, in the ticket's transaction."""

    def write(conn, ticket) -> None:
        first(conn, ticket)
        if then is not None:
            then(conn, ticket)

    return write


def close_sale(
    journal: Journal,
    lines: list[Line],
    card: str | None,
    cashier: str,
    tenders: list[Tender],
    redeemed_points: int = 0,
    extra: list[PointsEntry] = (),
    offline_cheques: set[str] = frozenset(),
    also=None,
) -> Ticket:
    """Close a ticket with several tenders; points redeemed as a tender become one "redeem" entry.

    `extra`: more entries decided at the till, such as a loyalty cheque issued ("redeem"). The loyalty cheques
    the ticket takes are kept with it (terminal/cheques.py; `offline_cheques`: those head office did not confirm).
    `also(conn, ticket)`: more rows written in the ticket's transaction (the POS API's ticket number).
    """
    from .cheques import record_taken

    card = validate_card_number(card) if card else None
    points, version, at = points_now(journal, lines, card)
    if redeemed_points:
        points = [*points, PointsEntry(kind="redeem", rule="points tender", points=redeemed_points)]
    points = [*points, *extra]
    return journal.close_ticket(
        cashier=cashier,
        lines=lines,
        tenders=tenders,
        card=card,
        points=points,
        rules_version=version,
        opened_at=at,
        also=_both(record_taken(set(offline_cheques)), also),
    )
