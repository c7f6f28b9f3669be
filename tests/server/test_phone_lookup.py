"""Head office finds a card by phone number for the till, SQLite and PostgreSQL: only a customer who consented,
answered with the name masked; the same refusal for a number nobody has and for a customer who did not consent."""

import pytest
from datetime import datetime, timezone

from server.ingest.answers import answer
from sync.requests import PhoneRequest

from ..fixtures.desk import both_engines  # noqa: F401 - SQLite and PostgreSQL
from ..fixtures.headoffice import CARDS

pytestmark = pytest.mark.usefixtures("english")  # the messages and receipts as written, in English


def ask(conn, phone):
    return answer(conn, "S001-T01", PhoneRequest(schema=1, id="p1", phone=phone), datetime.now(timezone.utc))


def test_a_consenting_customer_is_found_by_phone_with_the_name_masked(desk):
    from ..fixtures.headoffice import register_customers

    register_customers(desk.conn)
    found = ask(desk.conn, "06 00 00 00 02")  # customer B consented to SMS
    assert found.found and (found.customer.card, found.customer.masked_name) == (CARDS["B"], "C*** B***")
    for phone in ("06 00 00 00 01", "06 99 99 99 99"):  # A did not consent; nobody has the second
        refused = ask(desk.conn, phone)
        assert not refused.found and refused.message == (
            f"no customer who agreed to be found by phone has the number {phone}: scan or type the card"
        )
    assert ask(desk.conn, "12 34").message == (
        "12 34 is not a phone number: type the customer's 10 digits, e.g. 06 12 34 56 78"
    )
