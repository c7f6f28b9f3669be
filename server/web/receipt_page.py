"""The receipt's page: what a receipt's QR code opens, with no log-in (programme/receipt_link.py).

`/r/<ticket id>/<token>` shows that ticket as printed, the points head office booked for it rule by rule,
the card's balance and what expires when, and the offers waiting for the card. A wrong token and an unknown
ticket get the same 404, so the page says nothing about which tickets exist. No name, no address, the card
masked: whoever holds the receipt sees what the receipt already told them, kept up to date.
"""

from __future__ import annotations

from datetime import datetime, timezone

from flask import Blueprint, abort, render_template

from programme.cardnumber import mask_card_number
from programme.i18n import N_, _, format_datetime, format_money, language
from programme.receipt_link import token_matches
from sync.codec import CodecError, decode_ticket

from server.desk import standing as standing_of
from server.web.context import db

bp = Blueprint("receipt", __name__)
TOKEN_CHARS = 32
NOT_FOUND = N_("This receipt link is not known: check it against the QR code on your receipt.")


TENDERS = {
    "cash": N_("cash"),
    "bank_card": N_("bank card"),
    "points": N_("points"),
    "cheque": N_("loyalty cheque"),
    "voucher": N_("voucher"),
}


@bp.context_processor
def words():
    return {
        "_": _,
        "money": format_money,
        "when": format_datetime,
        "lang": language(),
        "tender": lambda kind: _(TENDERS[kind]) if kind in TENDERS else kind,
    }


def _ticket(ticket_id: str, token: str):
    if len(ticket_id) > 64 or len(token) > TOKEN_CHARS:
        abort(404, _(NOT_FOUND))
    row = db().execute("SELECT payload, terminal FROM tickets WHERE id = ?", (ticket_id,)).fetchone()
    if row is None:
        abort(404, _(NOT_FOUND))
    try:
        ticket = decode_ticket(bytes(row[0]), row[1])
    except CodecError:
        abort(404, _(NOT_FOUND))
    if not token_matches(ticket, token):
        abort(404, _(NOT_FOUND))
    return ticket


def _cards(conn, card: str) -> list[str]:
    """The card's customer's cards (the balance is the customer's), or the card alone."""
    row = conn.execute("SELECT customer_id FROM cards WHERE number = ?", (card,)).fetchone()
    if row is None or row[0] is None:
        return [card]
    return [r[0] for r in conn.execute("SELECT number FROM cards WHERE customer_id = ? ORDER BY number", (row[0],))]


def _offers(conn, cards: list[str], today: str) -> list[dict]:
    """Campaigns not over nor stopped that target one of the cards and that no card of theirs used yet."""
    marks = ",".join("?" * len(cards))
    rows = conn.execute(
        f"SELECT DISTINCT c.id, c.name, c.kind, c.points, c.cheque_cents, c.starts, c.ends, c.category, "
        "c.min_basket_cents "
        "FROM campaigns c "
        f"JOIN campaign_members m ON m.campaign_id = c.id AND m.grp = 'target' AND m.card IN ({marks}) "
        "WHERE c.ends >= ? AND c.stopped_at IS NULL ORDER BY c.ends, c.id",
        (*cards, today),
    ).fetchall()
    waiting = []
    for cid, name, kind, points, cheque, starts, ends, category, least in rows:
        used = conn.execute(
            f"SELECT 1 FROM ledger WHERE rule = ? AND card IN ({marks}) LIMIT 1", (f"offer:{cid}", *cards)
        ).fetchone()
        if not used:
            waiting.append(
                {
                    "name": name,
                    "kind": kind,
                    "points": points,
                    "cheque_cents": cheque,
                    "starts": starts,
                    "ends": ends,
                    "category": category,
                    "min_basket_cents": least,
                }
            )
    return waiting


@bp.route("/r/<ticket_id>/<token>")
def receipt(ticket_id: str, token: str):
    conn = db()
    ticket = _ticket(ticket_id, token)
    booked, balance, expiring, offers = [], None, [], []
    if ticket.card:
        booked = [
            {"rule": rule, "points": points}
            for rule, points in conn.execute(
                "SELECT rule, sum(points) FROM ledger WHERE ticket_id = ? AND card = ? GROUP BY rule ORDER BY min(id)",
                (ticket.id, ticket.card),
            )
        ]
        cards = _cards(conn, ticket.card)
        marks = ",".join("?" * len(cards))
        balance = conn.execute(
            f"SELECT coalesce(sum(points), 0) FROM card_points WHERE card IN ({marks})", cards
        ).fetchone()[0]
        expiring = standing_of.standing(conn, cards)["by_expiry"]
        offers = _offers(conn, cards, datetime.now(timezone.utc).date().isoformat())
    names = {f"offer:{o[0]}": o[1] for o in conn.execute("SELECT id, name FROM campaigns")}
    return render_template(
        "receipt.html",
        t=ticket,
        card=mask_card_number(ticket.card) if ticket.card else None,
        booked=booked,
        names=names,
        balance=balance,
        expiring=expiring,
        offers=offers,
    )
