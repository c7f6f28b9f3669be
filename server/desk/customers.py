"""Customers of the programme: enrol with dated consents, edit with an audit trail, search, the customer view.

A customer's tickets and ledger are found through the card numbers it holds now or held before,
so tickets that arrived before a card was registered attach without rewriting anything.
"""

from __future__ import annotations

import re
from datetime import date

from programme.cardnumber import validate_card_number
from programme.errors import CardNumberError

from server.desk import audit, bounds
from programme.i18n import _

from server.desk.errors import InvalidInput, NotFound
from server.storage.desk_db import transaction, utc_now
from server.storage.sql import by_bytes, joined
from server.desk.standing import standing
from server.storage.connection import Connection

FIELDS = ("name", "email", "phone", "postcode", "birth_date")
CONSENTS = ("consent_email", "consent_sms", "consent_profiling")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PHONE = re.compile(r"^\+?[0-9 .-]{6,20}$")
POSTCODE = re.compile(r"^[0-9A-Za-z -]{2,10}$")
SEARCH_LIMIT = 50
MAX_SEARCH = 200  # characters of a search (a longer LIKE pattern is refused by SQLite as too complex)
TICKETS_SHOWN = 50
LEDGER_SHOWN = 200


def _truthy(value) -> bool:
    return str(value).strip().lower() in ("1", "true", "on", "yes", "y")


def clean(form: dict) -> dict:
    """Check and normalise a customer's fields as typed at the desk; raise InvalidInput saying what to fix."""
    data = {f: (str(form.get(f) or "")).strip() for f in FIELDS}
    if not data["name"]:
        raise InvalidInput(_("name is required: type the customer's full name"))
    if len(data["name"]) > 120:
        raise InvalidInput(_("name is longer than 120 characters: shorten it"))
    if not data["email"] and not data["phone"]:
        raise InvalidInput(_("give at least one contact: an e-mail address or a phone number"))
    if data["email"] and not EMAIL.match(data["email"]):
        raise InvalidInput(
            _("e-mail address {value!r} is not valid: it looks like name@example.com").format(value=data["email"])
        )
    if data["phone"] and not PHONE.match(data["phone"]):
        raise InvalidInput(
            _("phone number {value!r} is not valid: digits, spaces and a leading +").format(value=data["phone"])
        )
    if not POSTCODE.match(data["postcode"]):
        raise InvalidInput(
            _("postcode {value!r} is not valid: type the customer's postcode").format(value=data["postcode"])
        )
    if data["birth_date"]:
        try:
            born = date.fromisoformat(data["birth_date"])
        except ValueError:
            raise InvalidInput(
                _("birth date {value!r} is not a date: use YYYY-MM-DD").format(value=data["birth_date"])
            ) from None
        if born > date.today():
            raise InvalidInput(_("birth date {value} is in the future").format(value=data["birth_date"]))
        bounds.check_day(born, "birth date")
    for f in FIELDS:
        data[f] = data[f] or None
    data["name"] = data["name"] or ""
    for c in CONSENTS:
        data[c] = 1 if _truthy(form.get(c, "")) else 0
    return data


def enrol(conn: Connection, form: dict, actor: str) -> int:
    """Create a customer; each consent given is dated now. Returns the customer id."""
    data = clean(form)
    now = utc_now()
    with transaction(conn):
        customer_id = conn.execute(
            "INSERT INTO customers (name, email, phone, postcode, birth_date, consent_email, consent_email_at, "
            "consent_sms, consent_sms_at, consent_profiling, consent_profiling_at, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (
                data["name"],
                data["email"],
                data["phone"],
                data["postcode"],
                data["birth_date"],
                data["consent_email"],
                now if data["consent_email"] else None,
                data["consent_sms"],
                now if data["consent_sms"] else None,
                data["consent_profiling"],
                now if data["consent_profiling"] else None,
                now,
                now,
            ),
        ).fetchone()[0]
        audit.record(conn, actor, "enrol", customer_id=customer_id, detail={k: data[k] for k in (*FIELDS, *CONSENTS)})
    return customer_id


def get(conn: Connection, customer_id: int) -> dict:
    row = conn.execute("SELECT * FROM customers WHERE id = ?", (customer_id,)).fetchone()
    if row is None:
        raise NotFound(_("no customer {id}: search for the customer by name, card or phone").format(id=customer_id))
    return dict(row)


def update(conn: Connection, customer_id: int, form: dict, actor: str) -> dict:
    """Edit a customer; the audit entry keeps each changed field's old and new value. Returns the changes."""
    data = clean(form)
    with transaction(conn):
        old = get(conn, customer_id)
        if old["erased_at"]:
            raise InvalidInput(
                _("customer {id} was erased: an erased customer cannot be edited").format(id=customer_id)
            )
        changes = {k: [old[k], data[k]] for k in (*FIELDS, *CONSENTS) if old[k] != data[k]}
        if not changes:
            return {}
        now = utc_now()
        sets = {k: data[k] for k in changes}
        for c in CONSENTS:
            if c in changes:
                sets[f"{c}_at"] = now
        sets["updated_at"] = now
        conn.execute(
            f"UPDATE customers SET {', '.join(f'{k} = ?' for k in sets)} WHERE id = ?", (*sets.values(), customer_id)
        )
        audit.record(conn, actor, "edit", customer_id=customer_id, detail=changes)
    return changes


def search(conn: Connection, query: str) -> list[dict]:
    """By card number (exact), phone (last 9 digits, so 06... finds +33 6...), postcode (exact) or name
    (contains); merged customers are hidden."""
    q = query.strip()
    if not q:
        return []
    if len(q) > MAX_SEARCH:
        raise InvalidInput(_("a search is at most {count} characters: shorten it").format(count=MAX_SEARCH))
    base = (
        f"SELECT c.*, (SELECT {joined(conn, 'number', ' ')} FROM cards WHERE customer_id = c.id "
        "AND status = 'active') AS cards FROM customers c WHERE c.merged_into IS NULL AND "
    )
    digits = re.sub(r"[^0-9]", "", q)
    try:
        number = validate_card_number(q)
    except CardNumberError:
        number = None
    if number:
        sql, args = base + "c.id IN (SELECT customer_id FROM cards WHERE number = ?)", [number]
    elif digits and len(digits) >= 6 and PHONE.match(q):
        sql, args = base + "replace(replace(replace(c.phone, ' ', ''), '.', ''), '-', '') LIKE ?", [f"%{digits[-9:]}"]
    else:
        # SQLite's LIKE ignores ASCII case, PostgreSQL's does not: lower() on both sides, on both engines.
        sql, args = base + "(c.postcode = ? OR lower(c.name) LIKE lower(?))", [q, f"%{q}%"]
    return [dict(r) for r in conn.execute(sql + f" ORDER BY {by_bytes(conn, 'c.name')} LIMIT {SEARCH_LIMIT}", args)]


def card_numbers(conn: Connection, customer_id: int) -> list[str]:
    """Every card the customer holds or held (lost, replaced, merged in): its tickets are the customer's."""
    return [
        r[0] for r in conn.execute("SELECT number FROM cards WHERE customer_id = ? ORDER BY issued_at", (customer_id,))
    ]


def _in(numbers: list[str]) -> str:
    return ", ".join("?" * len(numbers))


def balance(conn: Connection, customer_id: int) -> int:
    numbers = card_numbers(conn, customer_id)
    if not numbers:
        return 0
    # int(): PostgreSQL sums a BIGINT column as NUMERIC
    return int(
        conn.execute(
            f"SELECT coalesce(sum(points), 0) FROM card_points WHERE card IN ({_in(numbers)})", numbers
        ).fetchone()[0]
    )


def tickets(conn: Connection, customer_id: int, limit: int = TICKETS_SHOWN) -> list[dict]:
    """The customer's tickets, newest first, each with its lines."""
    numbers = card_numbers(conn, customer_id)
    if not numbers:
        return []
    found = [
        dict(r)
        for r in conn.execute(
            "SELECT id, terminal, store, closed_at, card, total_cents, points_earned, points_redeemed "
            f"FROM tickets WHERE card IN ({_in(numbers)}) ORDER BY closed_at DESC LIMIT ?",
            (*numbers, limit),
        )
    ]
    by_id = {t["id"]: {**t, "lines": []} for t in found}
    if by_id:
        for line in conn.execute(
            f"SELECT * FROM lines WHERE ticket_id IN ({_in(list(by_id))}) ORDER BY ticket_id, line_no", list(by_id)
        ):
            by_id[line["ticket_id"]]["lines"].append(dict(line))
    return list(by_id.values())


def ledger(conn: Connection, customer_id: int, limit: int = LEDGER_SHOWN) -> list[dict]:
    numbers = card_numbers(conn, customer_id)
    if not numbers:
        return []
    return [
        dict(r)
        for r in conn.execute(
            f"SELECT * FROM ledger WHERE card IN ({_in(numbers)}) ORDER BY at DESC, id DESC LIMIT ?", (*numbers, limit)
        )
    ]


def view(conn: Connection, customer_id: int) -> dict:
    """Everything the customer page shows."""
    customer = get(conn, customer_id)
    cards = [
        dict(r)
        for r in conn.execute(
            "SELECT c.*, coalesce((SELECT points FROM card_points WHERE card = c.number), 0) AS balance, "
            "(SELECT count(*) FROM tickets WHERE card = c.number) AS tickets "
            "FROM cards c WHERE customer_id = ? ORDER BY issued_at",
            (customer_id,),
        )
    ]
    numbers = [c["number"] for c in cards]
    ticket_count = (
        conn.execute(f"SELECT count(*) FROM tickets WHERE card IN ({_in(numbers)})", numbers).fetchone()[0]
        if numbers
        else 0
    )
    return {
        "customer": customer,
        "cards": cards,
        "balance": sum(c["balance"] for c in cards),
        "ledger": ledger(conn, customer_id),
        "tickets": tickets(conn, customer_id),
        "ticket_count": ticket_count,
        "audit": audit.for_customer(conn, customer_id),
        "standing": standing(conn, numbers),
    }
