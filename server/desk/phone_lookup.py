"""A customer found at the till by phone number, for a customer who forgot the card: only a customer who agreed
to be contacted on that phone (the desk's SMS consent) is found, and the till only sees the card and the name
masked (`J*** D***`) for the cashier to confirm with the customer.

The same answer for a number nobody has and for a customer who did not consent: the till learns nothing about
who did not agree. Reads the desk's tables (SQLite or PostgreSQL); a database without them finds no one.
"""

from __future__ import annotations

import re

from programme.i18n import N_, _
from sync.requests import CustomerMatch

from server.storage.connection import WRITE_ERRORS

MIN_DIGITS, MAX_DIGITS = 9, 15  # a phone number's digits (the last 9 are compared, so 06... finds +33 6...)


def masked_name(name: str) -> str:
    """Each word's first letter then `***`: `Jeanne Dupont` -> `J*** D***`."""
    return " ".join(f"{word[0]}***" for word in name.split() if word)


REFUSALS = {  # code -> the cashier's message (N_(): the till shows the code in its own language, terminal/answers.py)
    "phone_invalid": N_("{phone} is not a phone number: type the customer's 10 digits, e.g. 06 12 34 56 78"),
    "phone_nobody": N_("no customer who agreed to be found by phone has the number {phone}: scan or type the card"),
    "phone_several": N_("several customers have the number {phone}: scan or type the card"),
}


def find_by_phone(conn, phone: str) -> CustomerMatch | str:
    """The card and masked name of the one consenting customer with this number, else the cashier's message."""
    found = lookup(conn, phone)
    if isinstance(found, CustomerMatch):
        return found
    code, params = found
    return _(REFUSALS[code]).format(**params)


def lookup(conn, phone: str) -> CustomerMatch | tuple[str, dict[str, str]]:
    """The card and masked name of the one consenting customer with this number, else a code of REFUSALS and
    its parameters."""
    digits = re.sub(r"[^0-9]", "", phone)
    said = {"phone": phone.strip()}
    if not MIN_DIGITS <= len(digits) <= MAX_DIGITS:
        return "phone_invalid", said
    try:
        rows = conn.execute(
            "SELECT c.name, k.number FROM customers c JOIN cards k ON k.customer_id = c.id AND k.status = 'active' "
            "WHERE c.consent_sms = 1 AND c.erased_at IS NULL AND c.merged_into IS NULL "
            "AND replace(replace(replace(c.phone, ' ', ''), '.', ''), '-', '') LIKE ? ORDER BY k.issued_at DESC",
            (f"%{digits[-9:]}",),
        ).fetchall()
    except WRITE_ERRORS:  # no desk tables in this database
        return "phone_nobody", said
    customers = {name for name, _card in rows}
    if not rows:
        return "phone_nobody", said
    if len(customers) > 1:
        return "phone_several", said
    name, card = rows[0]
    return CustomerMatch(card=card, masked_name=masked_name(name or ""))
