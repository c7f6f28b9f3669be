"""What head office answers a till, through a real Mosquitto: a till over its request allowance is refused (and
logged), a till asking about card after card is refused past a few distinct cards, and a ticket is given only
to a till of the store that sold it."""

from __future__ import annotations

import json
import logging

import pytest

from server.ingest import request_limits
from server.ingest.request_limits import RequestLimits
from sync.broker_url import parse_broker_url
from sync.requests import BalanceRequest, ReleaseRequest
from terminal import requests
from terminal.errors import ReturnError
from terminal.requests import Requester
from terminal.till import TillSession

from ..fixtures.chain import wait_until
from .test_requests import CARD, HeadOffice, sold_at_till_a

OTHER_CARDS = ["2900000000025", "2900000000032", "2900000000049", "2900000000056"]


@pytest.fixture
def office(tmp_path, mosquitto, monkeypatch):
    """Head office up, till S001-T01 has sold to the card and synced."""
    monkeypatch.setattr(requests, "ASK_TIMEOUT", 5.0)  # a loaded test machine must not turn an answer into a timeout
    head = HeadOffice(tmp_path / "server.db", mosquitto.url)
    till_a = sold_at_till_a(tmp_path, mosquitto.url)
    yield head
    till_a.close()
    head.stop()


@pytest.fixture
def ask(mosquitto):
    """A requester per till id, started on first use."""
    started: dict[str, Requester] = {}

    def requester(terminal: str) -> Requester:
        if terminal not in started:
            started[terminal] = Requester(terminal, parse_broker_url(mosquitto.url)).start()
            assert started[terminal].ready.wait(10)
        return started[terminal]

    yield requester
    for one in started.values():
        one.stop()


def answered(caplog) -> list[str]:
    """Ids of the requests head office answered, from its log."""
    found = [json.loads(r.getMessage()) for r in caplog.records if r.name == "loyalty.uplink"]
    return [f["id"] for f in found if f["event"] == "answered"]


def refusals(caplog) -> list[dict]:
    found = [json.loads(r.getMessage()) for r in caplog.records if r.name == "loyalty.uplink"]
    return [f for f in found if f["event"] == "request_refused"]


@pytest.mark.timeout(60)
def test_a_till_over_its_allowance_is_refused_and_head_office_logs_it(office, ask, monkeypatch, caplog):
    monkeypatch.setattr(request_limits, "REQUEST_BURST", 3)
    monkeypatch.setattr(request_limits, "REQUESTS_PER_MINUTE", 1)
    caplog.set_level(logging.WARNING, logger="loyalty.uplink")
    till = ask("S001-T02")
    answers = [till.ask("balance", card=CARD) for _ in range(4)]
    assert [a.found for a in answers] == [True, True, True, False]
    message = (
        "too many requests from till S001-T02: head office answers at most 3 at once and 1 a minute per "
        "till; wait a few seconds and ask again"
    )
    assert (answers[3].message, answers[3].balance) == (message, None)
    assert ask("S001-T03").ask("balance", card=CARD).found  # another till has its own allowance
    assert office.uplink.refused == 1
    assert refusals(caplog) == [
        {"event": "request_refused", "terminal": "S001-T02", "kind": "balance", "reason": message}
    ]


@pytest.mark.timeout(60)
def test_a_till_asking_about_card_after_card_is_refused(office, ask, monkeypatch, tmp_path):
    monkeypatch.setattr(request_limits, "CARDS_PER_WINDOW", 3)
    till = ask("S001-T02")
    assert [till.ask("balance", card=c).balance.card for c in [CARD, *OTHER_CARDS[:2]]] == [CARD, *OTHER_CARDS[:2]]
    refused = till.ask("balance", card=OTHER_CARDS[2])
    assert (refused.found, refused.balance, refused.message) == (
        False,
        None,
        "too many different cards asked from till S001-T02: head office answers about at most 3 cards "
        "per till in 10 minutes, each presented at the till; the balance is shown offline, try again "
        "in a few minutes",
    )
    assert till.ask("balance", card=CARD).found  # a card presented a moment ago is still answered
    refused = till.ask("reserve", card=OTHER_CARDS[3], points=10, after_seq=0)  # a reservation names a card too
    assert (refused.kind, refused.found, refused.reservation) == ("reserve", False, None)
    session = TillSession(str(tmp_path / "till-b.db"), "S001-T02", online=lambda: True, requester=till)
    try:  # at the till: the card is shown, its balance marked offline
        balance = session.lookup_card(OTHER_CARDS[2])
        assert (balance.points, balance.confirmed) == (0, False)
    finally:
        session.close_session()


@pytest.mark.timeout(60)
def test_a_ticket_is_given_only_to_a_till_of_the_store_that_sold_it(office, ask, tmp_path):
    reply = ask("S001-T02").ask("ticket", ticket_id="S001-T01-00000001")
    assert (reply.found, reply.message) == (True, None)
    reply = ask("S002-T01").ask("ticket", ticket_id="S001-T01-00000001")
    message = (
        "ticket S001-T01-00000001 was sold in store S001: a return is taken in the store that sold it; "
        "send the customer to store S001"
    )
    assert (reply.found, reply.message, bytes(reply.ticket)) == (False, message, b"null")  # English text kept
    assert (reply.code, reply.params) == ("ticket_other_store", {"ticket": "S001-T01-00000001", "store": "S001"})
    session = TillSession(str(tmp_path / "till-c.db"), "S002-T01", online=lambda: True, requester=ask("S002-T01"))
    try:
        with pytest.raises(ReturnError) as refused:
            session.find_original("S001-T01-00000001")
        assert str(refused.value) == (  # head office's code, in the till's language (French by default)
            "le ticket S001-T01-00000001 a été vendu au magasin S001 : un retour se fait dans le magasin qui l'a "
            "vendu ; envoyez le client au magasin S001"
        )
    finally:
        session.close_session()


def test_the_bucket_refills_with_time_and_a_release_is_never_refused(monkeypatch):
    monkeypatch.setattr(request_limits, "REQUEST_BURST", 2)
    monkeypatch.setattr(request_limits, "REQUESTS_PER_MINUTE", 60)
    now = [0.0]
    limits = RequestLimits(clock=lambda: now[0])
    balance = BalanceRequest(schema=1, id="1", card=CARD)
    assert [limits.refusal("S001-T01", balance) is None for _ in range(3)] == [True, True, False]
    assert limits.refusal("S001-T01", ReleaseRequest(schema=1, id="2", reservation="r1")) is None
    now[0] = 1.0  # one request a second comes back
    assert [limits.refusal("S001-T01", balance) is None for _ in range(2)] == [True, False]


def test_a_card_not_asked_for_a_while_leaves_the_window(monkeypatch):
    monkeypatch.setattr(request_limits, "CARDS_PER_WINDOW", 2)
    monkeypatch.setattr(request_limits, "REQUEST_BURST", 100)
    now = [0.0]
    limits = RequestLimits(clock=lambda: now[0])

    def asked(card: str) -> bool:
        return limits.refusal("S001-T01", BalanceRequest(schema=1, id="1", card=card)) is None

    assert [asked(c) for c in (CARD, OTHER_CARDS[0], OTHER_CARDS[1])] == [True, True, False]
    now[0] = request_limits.CARD_WINDOW_S + 1
    assert asked(OTHER_CARDS[1])


@pytest.fixture
def secure_chain(tmp_path, reachable):
    """The generated hardened broker (TLS, one account per till, ACLs), head office answering as its own account,
    a ticket of S001-T01 at head office."""
    from programme.ticket import make_line
    from server.ingest.receive import classify
    from server.ingest.store import Store
    from server.ingest.uplink import Uplink
    from sync.broker_config import SERVER_USER, write_broker_config
    from sync.codec import encode_ticket
    from sync.mosquitto import Mosquitto, free_port, mosquitto_binary
    from sync.topics import tickets as tickets_topic
    from terminal.journal import Journal
    from terminal.sale import sell

    from ..fixtures.components import require

    require(mosquitto_binary() is not None, "mosquitto", "run `make setup` (apt-get install mosquitto)")
    port = free_port()
    made = write_broker_config(reachable / "broker", ["S001-T01", "S001-T02", "S002-T01"], port=port)
    broker = Mosquitto(reachable / "broker" / "data", port=port, config_path=made.config_file).start()
    with Journal(tmp_path / "till-a.db", "S001-T01") as journal:
        ticket = sell(journal, [make_line("3000000000014", 1, 542, "grocery", "olive oil 1l")], CARD)
    store = Store(tmp_path / "server.db")
    store.ingest(*classify([(tickets_topic("S001-T01"), encode_ticket(ticket))]), "2026-12-05T17:00:00+00:00")
    store.close()
    uplink = Uplink(str(tmp_path / "server.db"), account(made, SERVER_USER)).start()
    assert uplink.wait_subscribed(10)
    yield made, uplink
    uplink.stop()
    broker.stop()


def account(made, user: str):
    from sync.broker_config import read_password
    from sync.broker_url import BrokerUrl

    return BrokerUrl(
        host="127.0.0.1",
        port=made.port,
        tls=True,
        username=user,
        password=read_password(made.directory, user),
        ca_file=str(made.ca_file),
    )


@pytest.mark.timeout(60)
def test_on_the_hardened_broker_a_till_cannot_ask_in_another_tills_name(secure_chain, monkeypatch, caplog):
    """The till in a request is the account's own (ACL), so its store and its allowance cannot be borrowed."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    from sync import topics
    from sync.codec import encode
    from sync.requests import TicketRequest

    made, uplink = secure_chain
    monkeypatch.setattr(requests, "ASK_TIMEOUT", 5.0)
    tills = {t: Requester(t, account(made, t)).start() for t in ("S001-T02", "S002-T01")}
    try:
        for till in tills.values():
            assert till.ready.wait(10)
        assert tills["S001-T02"].ask("ticket", ticket_id="S001-T01-00000001").found
        refused = tills["S002-T01"].ask("ticket", ticket_id="S001-T01-00000001")
        assert refused.message == (
            "ticket S001-T01-00000001 was sold in store S001: a return is taken in the store "
            "that sold it; send the customer to store S001"
        )
        caplog.set_level(logging.INFO, logger="loyalty.uplink")
        # S002-T01's account publishes as S001-T02, then as itself: the broker drops the first (ACL).
        raw = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="t-spoof")
        raw.username_pw_set("S002-T01", account(made, "S002-T01").password)
        raw.tls_set(ca_certs=str(made.ca_file))
        raw.connect("127.0.0.1", made.port)
        raw.loop_start()
        try:
            for terminal, request_id in (("S001-T02", "spoof"), ("S002-T01", "own")):
                request = TicketRequest(schema=1, id=request_id, ticket_id="S001-T01-00000001")
                raw.publish(topics.requests(terminal), encode(request), qos=1).wait_for_publish(10)
            wait_until(lambda: "own" in answered(caplog), 10, "the answer to the till's own request")
        finally:
            raw.disconnect()
            raw.loop_stop()
        assert "spoof" not in answered(caplog) and uplink.dead_letters == 0  # sent first: it would be answered first
    finally:
        for till in tills.values():
            till.stop()
