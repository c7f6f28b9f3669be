"""Cards at the desk: issue, identification of anonymous tickets, block, replace with balance transfer,
merge, and the hot-list pushed retained to a real Mosquitto."""

import msgspec
import pytest

from server.desk import cards, customers
from server.ingest import hotlist
from server.desk.errors import Conflict, InvalidInput
from sync import topics
from sync.broker_url import parse_broker_url

from ..fixtures.desk import (  # noqa: F401 - fixtures; both_engines: each test on SQLite and PostgreSQL
    CARD_A,
    CARD_B,
    CARD_C,
    CARD_D,
    ENROL,
    NOT_A_CARD,
    both_engines,
    error_of,
    sell_anonymously,
)
from ..fixtures.mqtt import Listener
from ..fixtures.signing import opened

pytestmark = pytest.mark.usefixtures("english")  # written when the pages spoke only English


def _state(desk):
    return tuple(desk.count(t) for t in ("cards", "audit", "ledger", "customers"))


def test_registering_a_card_attaches_its_anonymous_tickets(desk):
    sold = sell_anonymously(desk.db_path, CARD_A, 3)
    sell_anonymously(desk.db_path, CARD_B, 2, terminal="S002-T01")
    customer_id = customers.enrol(desk.conn, ENROL, "seed")
    assert sorted((c["card"], c["tickets"]) for c in cards.anonymous_cards(desk.conn)) == [(CARD_A, 3), (CARD_B, 2)]
    assert customers.view(desk.conn, customer_id)["tickets"] == []

    client = desk.client("card_manager")
    response = desk.post(client, f"/customers/{customer_id}/cards", number=CARD_A)
    assert response.status_code == 302
    page = client.get(response.location).get_data(as_text=True)
    assert f"Card {CARD_A} issued; 3 earlier ticket(s) attached to this customer." in page
    view = customers.view(desk.conn, customer_id)
    assert sorted(t["id"] for t in view["tickets"]) == sorted(t.id for t in sold)
    assert view["ticket_count"] == 3 and view["balance"] == 36
    assert [li["gtin"] for li in view["tickets"][0]["lines"]] == ["3017620422003", "3228857000906"]
    assert all(t.id in page for t in sold) and "salmon fillet" in page
    assert [c["card"] for c in cards.anonymous_cards(desk.conn)] == [CARD_B]
    # A ticket arriving after registration attaches the same way.
    sell_anonymously(desk.db_path, CARD_A, 1, first_seq=4, days_ago=0)
    assert customers.view(desk.conn, customer_id)["ticket_count"] == 4


@pytest.mark.parametrize(
    "number,status,message",
    [
        (
            NOT_A_CARD,
            400,
            "card number 2900000000019 has a wrong check digit: expected 8, got 9; "
            "check the number typed or scan the card again",
        ),
        ("12345", 400, "card number 12345 has 5 digits, expected 13: scan the card again or type all 13 digits"),
        ("4006381333931", 400, "card number 4006381333931 is not one of our loyalty cards (prefix 29 expected)"),
        (CARD_A, 409, f"card {CARD_A} is already registered to customer 1: give the customer another card"),
    ],
)
def test_bad_card_numbers_are_refused_and_nothing_is_written(desk, number, status, message):
    first = customers.enrol(desk.conn, ENROL, "seed")
    second = customers.enrol(desk.conn, {**ENROL, "name": "Pierre Curie"}, "seed")
    cards.issue(desk.conn, first, CARD_A, "seed")
    before = _state(desk)
    response = desk.post(desk.client("card_manager"), f"/customers/{second}/cards", number=number)
    assert response.status_code == status and error_of(response) == message
    assert _state(desk) == before


def test_block_and_unblock_need_a_reason_and_fill_the_hotlist(desk):
    customer_id = customers.enrol(desk.conn, ENROL, "seed")
    cards.issue(desk.conn, customer_id, CARD_A, "seed")
    client = desk.client("card_manager")
    response = desk.post(client, f"/cards/{CARD_A}/block", reason=" ")
    assert response.status_code == 400 and error_of(response) == "a reason is required to block card: say why"
    assert desk.post(client, f"/cards/{CARD_A}/block", reason="suspicious use").status_code == 302
    assert [(h["card"], h["status"]) for h in cards.hotlist(desk.conn)] == [(CARD_A, "blocked")]
    response = desk.post(client, f"/cards/{CARD_A}/block", reason="again")
    assert response.status_code == 409 and error_of(response) == f"card {CARD_A} is blocked: it cannot be blocked now"
    assert desk.post(client, f"/cards/{CARD_A}/unblock", reason="customer found it").status_code == 302
    assert cards.hotlist(desk.conn) == []
    actions = [(a["action"], a["reason"]) for a in customers.view(desk.conn, customer_id)["audit"]]
    assert actions[:2] == [("unblock_card", "customer found it"), ("block_card", "suspicious use")]


def test_replacing_a_lost_card_moves_the_balance_with_transfer_entries_naming_their_cause(desk):
    sell_anonymously(desk.db_path, CARD_A, 4)  # 48 points on the card
    customer_id = customers.enrol(desk.conn, ENROL, "seed")
    cards.issue(desk.conn, customer_id, CARD_A, "seed")
    client = desk.client("card_manager")
    response = desk.post(client, f"/cards/{CARD_A}/replace", new_number=CARD_B, why="lost")
    assert response.status_code == 302
    assert f"Card {CARD_A} lost and replaced by {CARD_B}; 48 points moved." in client.get(response.location).get_data(
        True
    )
    entry_id = desk.conn.execute("SELECT id FROM audit WHERE action = 'replace_card'").fetchone()[0]
    transfers = [
        tuple(r)
        for r in desk.conn.execute(
            "SELECT card, kind, points, cause, rule FROM ledger WHERE kind = 'transfer' ORDER BY id"
        )
    ]
    assert transfers == [  # one entry in per lot moved (each ticket earned its own): they keep their dates
        (CARD_A, "transfer", -48, f"desk:{entry_id}:out", f"card lost: balance moved to {CARD_B}"),
        *(
            (CARD_B, "transfer", 12, f"desk:{entry_id}:in:{n}", f"card lost: balance moved from {CARD_A}")
            for n in range(4)
        ),
    ]
    assert (cards.card_balance(desk.conn, CARD_A), cards.card_balance(desk.conn, CARD_B)) == (0, 48)
    assert customers.balance(desk.conn, customer_id) == 48
    old = cards.get_card(desk.conn, CARD_A)
    assert (old["status"], old["replaced_by"]) == ("lost", CARD_B)
    assert [(h["card"], h["status"]) for h in cards.hotlist(desk.conn)] == [(CARD_A, "lost")]
    # The old card's tickets stay the customer's history.
    assert customers.view(desk.conn, customer_id)["ticket_count"] == 4
    # A lost card cannot be replaced twice; a replacement card already in use is refused whole.
    before = _state(desk)
    with pytest.raises(Conflict, match=f"^card {CARD_A} is lost: only an active or blocked card can be replaced$"):
        cards.replace(desk.conn, CARD_A, CARD_C, "lost", "seed")
    with pytest.raises(
        Conflict, match=f"^card {CARD_A} is already registered to customer 1: give the customer another card$"
    ):
        cards.replace(desk.conn, CARD_B, CARD_A, "stolen", "seed")
    with pytest.raises(InvalidInput, match="^replacement reason 'bored' is not one of lost, stolen, damaged$"):
        cards.replace(desk.conn, CARD_B, CARD_C, "bored", "seed")
    assert _state(desk) == before


def test_merge_moves_cards_tickets_and_points_and_refuses_merging_into_itself(desk):
    sell_anonymously(desk.db_path, CARD_B, 2)
    marie = customers.enrol(desk.conn, ENROL, "seed")
    twin = customers.enrol(desk.conn, {**ENROL, "email": "m.curie@example.org"}, "seed")
    cards.issue(desk.conn, marie, CARD_A, "seed")
    cards.issue(desk.conn, twin, CARD_B, "seed")
    client = desk.client("card_manager")
    before = _state(desk)
    response = desk.post(client, f"/customers/{marie}/merge", other=str(marie))
    assert response.status_code == 409
    assert error_of(response) == f"cannot merge customer {marie} into itself: choose two different customers"
    response = desk.post(client, f"/customers/{marie}/merge", other="x")
    assert response.status_code == 400
    assert error_of(response) == "customer number 'x' is not a number: type the other customer's number"
    assert _state(desk) == before
    response = desk.post(client, f"/customers/{marie}/merge", other=str(twin), reason="same person")
    assert response.status_code == 302
    view = customers.view(desk.conn, marie)
    assert [c["number"] for c in view["cards"]] == [CARD_A, CARD_B]
    assert (view["ticket_count"], view["balance"]) == (2, 24)
    assert customers.get(desk.conn, twin)["merged_into"] == marie
    assert [c["id"] for c in customers.search(desk.conn, "curie")] == [marie]
    response = desk.post(client, f"/customers/{twin}/cards", number=CARD_C)
    assert error_of(response) == f"customer {twin} was merged into customer {marie}: use that one"


def test_hotlist_is_published_retained_on_the_broker(desk, mosquitto):
    customer_id = customers.enrol(desk.conn, ENROL, "seed")
    cards.issue(desk.conn, customer_id, CARD_A, "seed")
    cards.issue(desk.conn, customer_id, CARD_B, "seed")
    desk.app.config["BROKER"] = mosquitto.url
    client = desk.client("card_manager")
    assert desk.post(client, f"/cards/{CARD_A}/replace", new_number=CARD_C, why="stolen").status_code == 302
    assert desk.post(client, f"/cards/{CARD_B}/block", reason="fraud check").status_code == 302
    # A till connecting afterwards gets the last list at once: it was retained.
    listener = Listener(mosquitto.port, topics.HOTLIST)
    try:
        assert listener.wait_for(lambda m: len(m) >= 1)
        payload = msgspec.json.decode(opened("hotlist", listener.messages[-1][1]))
    finally:
        listener.close()
    assert payload["schema"] == 1
    assert [(c["card"], c["status"]) for c in payload["cards"]] == [(CARD_A, "stolen"), (CARD_B, "blocked")]
    assert hotlist.publish(desk.conn, parse_broker_url(mosquitto.url)) == 2


def test_an_unreachable_broker_does_not_undo_the_block_but_says_so(desk, monkeypatch):
    from sync.mosquitto import free_port

    customer_id = customers.enrol(desk.conn, ENROL, "seed")
    cards.issue(desk.conn, customer_id, CARD_A, "seed")
    port = free_port()
    desk.app.config["BROKER"] = f"mqtt://127.0.0.1:{port}"
    client = desk.client("card_manager")
    response = desk.post(client, f"/cards/{CARD_A}/block", reason="lost wallet")
    page = client.get(response.location).get_data(as_text=True)
    assert cards.get_card(desk.conn, CARD_A)["status"] == "blocked"
    assert f"hot-list not pushed: broker mqtt://127.0.0.1:{port} unreachable" in page


def test_transfer_points_between_cards_of_two_customers(desk):
    sell_anonymously(desk.db_path, CARD_A, 3)  # 36 points
    parent = customers.enrol(desk.conn, ENROL, "seed")
    child = customers.enrol(desk.conn, {**ENROL, "name": "Irène Curie"}, "seed")
    cards.issue(desk.conn, parent, CARD_A, "seed")
    cards.issue(desk.conn, child, CARD_B, "seed")
    cards.issue(desk.conn, child, CARD_C, "seed")
    cards.block(desk.conn, CARD_C, "seed", "seed")
    client = desk.client("card_manager")
    before = _state(desk)
    for form, status, message in [
        (
            {"to_card": CARD_B, "points": "37", "reason": "gift"},
            409,
            f"card {CARD_A} has 36 points: it cannot transfer 37",
        ),
        (
            {"to_card": CARD_B, "points": "-5", "reason": "gift"},
            400,
            "points to transfer must be positive: swap the cards to move points the other way",
        ),
        ({"to_card": CARD_B, "points": "5", "reason": ""}, 400, "a reason is required to transfer points: say why"),
        (
            {"to_card": CARD_A, "points": "5", "reason": "x"},
            409,
            f"card {CARD_A} cannot transfer points to itself: type the other card's number",
        ),
        (
            {"to_card": CARD_C, "points": "5", "reason": "x"},
            409,
            f"card {CARD_C} is blocked: points go to an active card only",
        ),
        (
            {"to_card": CARD_D, "points": "5", "reason": "x"},
            404,
            f"card {CARD_D} is not registered: issue it to a customer first",
        ),
        (
            {"to_card": NOT_A_CARD, "points": "5", "reason": "x"},
            400,
            "card number 2900000000019 has a wrong check digit: expected 8, got 9; "
            "check the number typed or scan the card again",
        ),
    ]:
        response = desk.post(client, f"/cards/{CARD_A}/transfer", **form)
        assert (response.status_code, error_of(response)) == (status, message)
    assert _state(desk) == before
    response = desk.post(client, f"/cards/{CARD_A}/transfer", to_card=CARD_B, points="30", reason="gift to daughter")
    assert response.status_code == 302
    assert (customers.balance(desk.conn, parent), customers.balance(desk.conn, child)) == (6, 30)
    causes = [r[0] for r in desk.conn.execute("SELECT cause FROM ledger WHERE kind = 'transfer' ORDER BY id")]
    entry = desk.conn.execute("SELECT min(id) FROM audit WHERE action = 'transfer_points'").fetchone()[0]
    assert causes == [f"desk:{entry}:out", f"desk:{entry}:in:0", f"desk:{entry}:in:1", f"desk:{entry}:in:2"]
    assert [a["action"] for a in customers.view(desk.conn, child)["audit"]][0] == "transfer_points"
