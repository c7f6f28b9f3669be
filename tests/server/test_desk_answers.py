"""A till asks head office about a card the desk registered: name, status and tier, on SQLite and on PostgreSQL
(the uplink answers through the ingest store's own connection, not the desk's)."""

from programme.ticket import make_line
from server.desk import cards, customers
from server.ingest.answers import answer_balance
from server.ingest.store_api import open_store
from sync.requests import BalanceRequest

from ..fixtures.desk import (  # noqa: F401 - fixtures; both_engines: each test on SQLite and PostgreSQL
    CARD_A,
    CARD_B,
    ENROL,
    both_engines,
    sell_anonymously,
)


def ask(desk, card: str):
    store = open_store(desk.db_path)
    try:
        return answer_balance(store.conn, "S009-T01", BalanceRequest(schema=1, id="r1", card=card))
    finally:
        store.close()


def test_a_registered_card_is_answered_with_its_first_name_status_and_tier(desk):
    oil = [make_line("3017620422003", 300, 542, category="grocery", label="olive oil 1l")]  # 1,626 EUR: silver
    sell_anonymously(desk.db_path, CARD_A, 1, lines=oil, points_each=1626)
    customer = customers.enrol(desk.conn, {**ENROL, "name": "Ann Martin"}, "seed")
    cards.issue(desk.conn, customer, CARD_A, "seed")
    reply = ask(desk, CARD_A)
    info = reply.balance
    assert (reply.found, info.registered, info.first_name, info.status, info.points, info.tier) == (
        True,
        True,
        "Ann",
        "active",
        1626,
        "silver",
    )
    cards.block(desk.conn, CARD_A, "stolen wallet", "seed")
    assert ask(desk, CARD_A).balance.status == "blocked"


def test_a_card_neither_sold_nor_registered_is_not_known(desk):
    reply = ask(desk, CARD_B)
    assert (reply.found, reply.balance.registered, reply.message) == (
        False,
        False,
        "card *********0025 is not known to head office: never used, not registered",
    )
