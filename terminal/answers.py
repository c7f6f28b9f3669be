"""Head office's refusals on the till's screen in the cashier's language.

Head office writes a refusal in English (`Reply.message`) and, to a till that asks for them, as a code and its
parameters (`Reply.code`, `Reply.params`, sync/requests.py; a `day` is a local day, ISO, shown as people read
it). The till shows the code through its catalog; a code it does not know (a newer server), a parameter missing,
or a reply without a code (an older server, a request refused for its rate) shows the message as it came.
"""

from __future__ import annotations

from datetime import date

from programme.i18n import N_, _, format_date
from sync.requests import Reply

MESSAGES = {
    "ticket_other_store": N_(
        "ticket {ticket} was sold in store {store}: a return is taken in the store that sold it; send the customer "
        "to store {store}"
    ),
    "ticket_not_at_head_office": N_(
        "ticket {ticket} is not at head office: check the number at the foot of the receipt; a ticket reaches head "
        "office when the till that sold it has synced"
    ),
    "card_unknown": N_("card {card} is not known to head office: never used, not registered"),
    "reserve_held_elsewhere": N_(
        "only {available} points available: another till holds a reservation of {held} points on this card; "
        "redeem at most {available}"
    ),
    "reserve_held_elsewhere_none": N_(
        "no points available: another till holds a reservation of {held} points on this card; wait until that sale "
        "closes"
    ),
    "reserve_short": N_(
        "only {available} points available at head office for this card, {asked} asked; redeem at most {available}"
    ),
    "reserve_none": N_(
        "no points available at head office for this card, {asked} asked: they were spent since the till read its "
        "balance; identify the card again"
    ),
    "reserve_used": N_("request {request} was already used: ask again"),
    "release_not_held": N_("reservation {reservation} is not held by this till"),
    "phone_invalid": N_("{phone} is not a phone number: type the customer's 10 digits, e.g. 06 12 34 56 78"),
    "phone_nobody": N_("no customer who agreed to be found by phone has the number {phone}: scan or type the card"),
    "phone_several": N_("several customers have the number {phone}: scan or type the card"),
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


def shown(reply: Reply) -> str | None:
    """What the cashier reads of a refusal: its code in the till's language, else its message as it came."""
    template = MESSAGES.get(reply.code or "")
    if template is None:
        return reply.message
    try:
        params = {k: format_date(date.fromisoformat(str(v))) if k == "day" else v for k, v in reply.params.items()}
        return _(template).format(**params)
    except (KeyError, IndexError, ValueError):  # parameters that do not fit: the server's own words
        return reply.message
