"""Enrol, edit with audit trail, search and the customer page, through the pages and the library."""

import pytest

from server.desk import audit, cards, customers
from server.desk.errors import InvalidInput

from ..fixtures.desk import (  # noqa: F401 - fixtures; both_engines: each test on SQLite and PostgreSQL
    CARD_A,
    ENROL,
    both_engines,
    error_of,
    sell_anonymously,
)

pytestmark = pytest.mark.usefixtures("english")  # written when the pages spoke only English


def test_enrol_through_the_page_dates_the_consents_given(desk):
    client = desk.client("card_manager")
    response = desk.post(client, "/customers/new", **ENROL)
    assert response.status_code == 302 and response.location == "/customers/1"
    customer = customers.get(desk.conn, 1)
    assert (customer["name"], customer["postcode"], customer["birth_date"]) == ("Marie Curie", "75005", "1967-11-07")
    assert (customer["consent_email"], customer["consent_sms"], customer["consent_profiling"]) == (1, 0, 1)
    assert customer["consent_email_at"] == customer["created_at"] and customer["consent_sms_at"] is None
    page = client.get("/customers/1").get_data(as_text=True)
    assert "Marie Curie" in page and "Customer 1 enrolled. Issue a card below." in page
    (entry,) = audit.for_customer(desk.conn, 1)
    assert (entry["actor"], entry["action"], entry["detail"]["email"]) == ("card-manager", "enrol", ENROL["email"])


@pytest.mark.parametrize(
    "change,message",
    [
        ({"name": " "}, "name is required: type the customer's full name"),
        ({"email": "", "phone": ""}, "give at least one contact: an e-mail address or a phone number"),
        (
            {"email": "marie.example.org"},
            "e-mail address 'marie.example.org' is not valid: it looks like name@example.com",
        ),
        ({"phone": "call me"}, "phone number 'call me' is not valid: digits, spaces and a leading +"),
        ({"postcode": ""}, "postcode '' is not valid: type the customer's postcode"),
        ({"birth_date": "07/11/1967"}, "birth date '07/11/1967' is not a date: use YYYY-MM-DD"),
        ({"birth_date": "2999-01-01"}, "birth date 2999-01-01 is in the future"),
    ],
)
def test_bad_enrolment_is_refused_with_its_message_and_nothing_written(desk, change, message):
    client = desk.client("card_manager")
    response = desk.post(client, "/customers/new", **{**ENROL, **change})
    assert response.status_code == 400 and error_of(response) == message
    assert desk.count("customers") == 0 and desk.count("audit") == 0
    assert 'value="75005"' in response.get_data(as_text=True) or change.get("postcode") == ""


def test_edit_keeps_old_and_new_values_in_the_audit_trail_and_redates_a_consent(desk):
    customer_id = customers.enrol(desk.conn, ENROL, "seed")
    before = customers.get(desk.conn, customer_id)
    client = desk.client("admin")
    form = {**ENROL, "postcode": "75006", "consent_email": "", "consent_sms": "1"}
    response = desk.post(client, f"/customers/{customer_id}/edit", **form)
    assert response.status_code == 302
    after = customers.get(desk.conn, customer_id)
    assert (after["postcode"], after["consent_email"], after["consent_sms"]) == ("75006", 0, 1)
    assert after["consent_sms_at"] >= before["created_at"] and after["consent_profiling_at"] == before["created_at"]
    edit = audit.for_customer(desk.conn, customer_id)[0]
    assert (edit["action"], edit["actor"]) == ("edit", "admin")
    assert edit["detail"] == {"postcode": ["75005", "75006"], "consent_email": [1, 0], "consent_sms": [0, 1]}
    assert "Saved: postcode, consent_email, consent_sms." in client.get(f"/customers/{customer_id}").get_data(True)


def test_edit_with_bad_input_changes_nothing(desk):
    customer_id = customers.enrol(desk.conn, ENROL, "seed")
    client = desk.client("card_manager")
    response = desk.post(client, f"/customers/{customer_id}/edit", **{**ENROL, "email": "nope", "postcode": "1"})
    assert response.status_code == 400
    assert error_of(response) == "e-mail address 'nope' is not valid: it looks like name@example.com"
    assert customers.get(desk.conn, customer_id)["email"] == ENROL["email"] and desk.count("audit") == 1


def test_search_by_name_card_phone_and_postcode(desk):
    marie = customers.enrol(desk.conn, ENROL, "seed")
    pierre = customers.enrol(
        desk.conn, {**ENROL, "name": "Pierre Curie", "phone": "01 44 27 00 00", "postcode": "92330"}, "seed"
    )
    cards.issue(desk.conn, pierre, CARD_A, "seed")
    ids = lambda q: [c["id"] for c in customers.search(desk.conn, q)]  # noqa: E731
    assert ids("curie") == [marie, pierre]
    assert ids(CARD_A) == [pierre] and ids("2900 0000 0001 8") == [pierre]
    assert ids("0612345678") == [marie] and ids("+33 6 12 34 56 78") == [marie]
    assert ids("92330") == [pierre] and ids("nobody") == []
    client = desk.client("head_office")
    page = client.get(f"/customers?q={CARD_A}").get_data(as_text=True)
    assert "Pierre Curie" in page and "Marie Curie" not in page
    assert "No customer matches “zzz”." in client.get("/customers?q=zzz").get_data(as_text=True)


def test_unknown_customer_is_a_404_with_a_message(desk):
    response = desk.client("head_office").get("/customers/99")
    assert response.status_code == 404
    assert error_of(response) == "no customer 99: search for the customer by name, card or phone"


def test_library_refuses_bad_input_without_the_web(desk):
    with pytest.raises(InvalidInput, match="^name is required"):
        customers.enrol(desk.conn, {**ENROL, "name": ""}, "seed")


def test_customer_view_shows_tier_from_eligible_spend_and_lots_with_their_expiry(desk):
    from datetime import date

    from programme.ticket import make_line

    tv = [
        make_line("8806094939041", 1, 80_000, category="electronics", label="television"),
        make_line("3000000000017", 1, 500_000, category="tobacco", label="cigarettes, carton x100"),
    ]
    sold = sell_anonymously(desk.db_path, CARD_A, 2, days_ago=10, points_each=800, lines=tv)
    customer_id = customers.enrol(desk.conn, ENROL, "seed")
    cards.issue(desk.conn, customer_id, CARD_A, "seed")
    standing = customers.view(desk.conn, customer_id)["standing"]
    # 1,600 EUR eligible (tobacco excluded): silver from 1,500 EUR, not gold (4,000 EUR) despite 11,600 EUR spent.
    assert (standing["tier"], standing["rolling_spend_cents"], standing["rules_version"]) == (
        "silver",
        160_000,
        "2026.1",
    )
    earned = sold[0].closed_at
    expected_expiry = date(earned.year + 1, 2, 28).isoformat()
    assert [(lot["left"], lot["expires_on"]) for lot in standing["lots"]] == [(800, expected_expiry)] * 2
    from server.desk import corrections

    corrections.adjust(desk.conn, customer_id, CARD_A, -1000, "till error", "seed")
    lots = customers.view(desk.conn, customer_id)["standing"]["lots"]
    assert [lot["left"] for lot in lots] == [600]  # debits take from the oldest lot first
    page = desk.client("head_office").get(f"/customers/{customer_id}").get_data(as_text=True)
    shown_expiry = date.fromisoformat(expected_expiry).strftime("%d/%m/%Y")  # as the page shows days
    assert 'id="tier">silver<' in page and f'<td>{shown_expiry}</td><td class="num">600</td>' in page
    assert customers.view(desk.conn, customer_id)["standing"]["by_expiry"] == [
        {"expires_on": expected_expiry, "points": 600}
    ]
