"""The till asks head office: the balance of a card it never sold to, and a ticket sold at another till."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest

from programme.errors import ProgrammeError
from programme.ticket import make_line
from server.ingest.store import Store
from server.ingest.uplink import Uplink
from sync.broker_url import parse_broker_url
from terminal import requests
from terminal.app import TillApp
from terminal.errors import ReturnError, TillError
from terminal.requests import Requester
from terminal.sale import sell
from terminal.till import TillSession

from ..fixtures.chain import Till, start_ingestor, wait_until
from .test_app import SIZE, identify, pilot_test, text_of, type_in

pytestmark = pytest.mark.usefixtures("english")  # written when the till spoke only English

CARD = "2900000000018"
OIL, RAZORS = "3000000000014", "3000000000007"


class HeadOffice:
    """Ingest and the uplink subscriber on one SQLite file, like `loyalty server`."""

    def __init__(self, db, url: str):
        self.db = db
        self.ingestor = start_ingestor(db, url)
        self.uplink = Uplink(str(db), parse_broker_url(url)).start()
        assert self.uplink.wait_subscribed(10)

    def stop(self) -> None:
        self.uplink.stop()
        self.ingestor.stop()


def sold_at_till_a(tmp_path, url: str) -> Till:
    """Till A sells to the card (2 x 5.42 + 1.91: 12 points at the base rate) and syncs it."""
    till = Till(tmp_path, "S001-T01")
    sell(
        till.journal,
        [make_line(OIL, 2, 542, "grocery", "olive oil 1l"), make_line(RAZORS, 1, 191, "hygiene", "razors")],
        CARD,
    )
    till.connect(url)
    assert till.sender.wait_synced(30)
    return till


def server_points(db, card: str = CARD) -> int:
    store = Store(db)
    try:
        return store.balances([card]).get(card, 0)
    finally:
        store.close()


@pytest.fixture
def chain(tmp_path, mosquitto, monkeypatch):
    """Head office up, till A has sold to the card; till B of the same store (never sold to it) has a requester,
    online."""
    monkeypatch.setattr(requests, "ASK_TIMEOUT", 5.0)  # a loaded test machine must not turn an answer into a timeout
    office = HeadOffice(tmp_path / "server.db", mosquitto.url)
    till_a = sold_at_till_a(tmp_path, mosquitto.url)
    till_b = Till(tmp_path, "S001-T02")
    requester = Requester("S001-T02", parse_broker_url(mosquitto.url)).start()
    assert requester.ready.wait(10)
    session = TillSession(till_b.journal.path, "S001-T02", online=lambda: True, requester=requester)
    yield office, till_a, till_b, session
    session.close_session()
    requester.stop()
    till_b.close()
    till_a.close()
    office.stop()


@pytest.mark.timeout(60)
def test_till_b_shows_the_balance_head_office_knows(chain):
    office, _, till_b, session = chain
    points = server_points(office.db)
    assert points > 0
    balance = session.lookup_card(CARD)
    assert (balance.known_points, balance.local_points, balance.points, balance.confirmed) == (points, 0, points, True)
    # kept like a pushed balance: a sale at B adds its own points on top, once
    sell(till_b.journal, [make_line(OIL, 1, 542, "grocery", "olive oil 1l")], CARD)
    again = session.lookup_card(CARD)  # fresh: not asked again
    assert (again.known_points, again.local_points, again.confirmed) == (points, 5, True)
    assert office.uplink.answered == 1


@pytest.mark.timeout(60)
def test_a_registered_card_comes_with_first_name_and_tier(chain, tmp_path):
    from server.storage.desk_db import open_db

    office, till_a, _, session = chain
    card, at = "2900000000032", "2026-01-05T10:00:00+00:00"
    desk = open_db(office.db)  # the desk registered the card to Ann Martin
    with desk:
        desk.execute(
            "INSERT INTO customers (id, name, created_at, updated_at) VALUES (7, 'Ann Martin', ?, ?)", (at, at)
        )
        desk.execute(
            "INSERT INTO cards (number, customer_id, status, issued_at, status_at) VALUES (?, 7, 'active', ?, ?)",
            (card, at, at),
        )
    desk.close()
    sell(till_a.journal, [make_line(OIL, 300, 542, "grocery", "olive oil 1l")], card)  # 1,626 EUR: silver
    till_a.sender.wake()
    assert till_a.sender.wait_synced(30)
    balance = session.lookup_card(card)
    assert (balance.first_name, balance.tier, balance.points, balance.confirmed) == (
        "Ann",
        "silver",
        server_points(office.db, card),
        True,
    )


@pytest.mark.timeout(60)
def test_an_unknown_card_is_said_so_and_shown_with_zero(chain):
    office, _, _, session = chain
    reply = session.requester.ask("balance", card="2900000000025")
    assert (reply.found, reply.message) == (
        False,
        "card *********0025 is not known to head office: never used, not registered",
    )
    balance = session.lookup_card("2900000000025")
    assert (balance.points, balance.confirmed) == (0, True)


@pytest.mark.timeout(60)
def test_two_requesters_of_one_till_both_get_their_answers(chain, mosquitto):
    """The screen and a `loyalty till return --broker` at the same till: neither throws the other off."""
    office, _, _, session = chain
    second = Requester("S001-T02", parse_broker_url(mosquitto.url)).start()
    try:
        assert second.ready.wait(10)
        answers = [requester.ask("balance", card=CARD) for requester in (session.requester, second, session.requester)]
        assert [a.balance.points for a in answers] == [server_points(office.db)] * 3
    finally:
        second.stop()


@pytest.mark.timeout(60)
def test_a_return_at_till_b_of_a_ticket_sold_at_till_a(chain):
    office, till_a, till_b, session = chain
    original_id = "S001-T01-00000001"
    earned = till_a.journal.find_ticket(original_id).points_earned
    before = server_points(office.db)
    original = session.find_original(original_id)
    assert (original.id, original.card, len(original.lines)) == (original_id, CARD, 2)
    closed = session.return_lines(original_id, {0: 2})  # both bottles of oil
    ticket = closed.ticket
    assert ticket.terminal == "S001-T02" and ticket.card == CARD and [li.quantity for li in ticket.lines] == [-2]
    reversed_points = sum(e.points for e in ticket.points if e.kind == "reverse")
    assert reversed_points == 10 and reversed_points <= earned
    assert ticket.points[0].rule == f"return of {original_id} line 1"
    conn = sqlite3.connect(till_b.journal.path)
    assert conn.execute("SELECT sum(points) FROM ledger WHERE card = ?", (CARD,)).fetchone()[0] == -10
    conn.close()
    till_b.connect(office_url(office))
    assert till_b.sender.wait_synced(30)
    assert server_points(office.db) == before - 10
    with pytest.raises(ProgrammeError) as refused:  # the oil cannot be returned twice at this till
        session.return_lines(original_id, {0: 1})
    assert str(refused.value) == "line 1 of S001-T01-00000001: 0 left to return, 1 asked"


def office_url(office: HeadOffice) -> str:
    return f"mqtt://{office.uplink.broker.host}:{office.uplink.broker.port}"


@pytest.mark.timeout(60)
def test_a_ticket_head_office_does_not_have_is_refused_with_its_reason(chain):
    _, _, _, session = chain
    with pytest.raises(ReturnError) as refused:
        session.find_original("S003-T01-00000007")
    assert str(refused.value) == (
        "ticket S003-T01-00000007 is not at head office: check the number at the foot of "
        "the receipt; a ticket reaches head office when the till that sold it has synced"
    )


@pytest.mark.timeout(60)
def test_offline_a_ticket_of_another_till_cannot_be_found(tmp_path):
    session = TillSession(str(tmp_path / "till.db"), "S002-T01", online=lambda: False)
    with pytest.raises(ReturnError) as refused:
        session.find_original("S001-T01-00000001")
    assert str(refused.value) == (
        "ticket S001-T01-00000001 is not in this till's journal: check the number "
        "printed at the foot of the receipt, e.g. S002-T01-00000042"
    )
    session.close_session()


async def wait_online(app: TillApp) -> None:
    await asyncio.to_thread(wait_until, lambda: app.is_online() and app.requester.ready.is_set(), 10, "till online")


@pytest.mark.timeout(60)
@pilot_test
async def test_the_screen_shows_the_server_balance_then_offline_with_the_server_down(tmp_path, mosquitto):
    from server.storage.desk_db import open_db

    office = HeadOffice(tmp_path / "server.db", mosquitto.url)
    till_a = sold_at_till_a(tmp_path, mosquitto.url)  # before the app runs: blocking here is harmless
    desk, at = open_db(office.db), "2026-01-05T10:00:00+00:00"  # the desk registered the card to Ann Martin
    with desk:
        desk.execute(
            "INSERT INTO customers (id, name, created_at, updated_at) VALUES (7, 'Ann Martin', ?, ?)", (at, at)
        )
        desk.execute(
            "INSERT INTO cards (number, customer_id, status, issued_at, status_at) VALUES (?, 7, 'active', ?, ?)",
            (CARD, at, at),
        )
    desk.close()
    points = server_points(office.db)
    url = parse_broker_url(mosquitto.url)
    try:
        requests.ASK_TIMEOUT, timeout = 5.0, requests.ASK_TIMEOUT
        app = TillApp(str(tmp_path / "till-b.db"), "S001-T02", broker=url)
        try:
            async with app.run_test(size=SIZE) as pilot:
                await wait_online(app)
                await identify(app, pilot)
                assert text_of(app, "#card").splitlines()[:2] == ["card *********0018  Ann", f"balance {points} points"]
                await pilot.press("f7")  # a return of till A's ticket, through the screen
                await type_in(pilot, "S001-T01-00000001")
                await app.workers.wait_for_complete()
                await pilot.pause()
                assert text_of(app, "#receipt") == "return of S001-T01-00000001\n1. olive oil 1l x2\n2. razors x1"
                await type_in(pilot, "1x2")
                assert text_of(app, "#message") == "ticket S001-T02-00000001 closed"
        finally:
            requests.ASK_TIMEOUT = timeout
        await asyncio.to_thread(office.stop)
        office = None
        app = TillApp(str(tmp_path / "till-c.db"), "S003-T01", broker=url)  # the broker is up, head office is not
        async with app.run_test(size=SIZE) as pilot:
            await wait_online(app)
            await identify(app, pilot)
            assert text_of(app, "#card").splitlines()[:2] == [
                "card *********0018  customer",
                "balance 0 points  (offline)",
            ]
    finally:
        till_a.close()
        if office:
            office.stop()


def test_an_offline_till_says_it_cannot_find_a_customer_by_phone(tmp_path):
    session = TillSession(str(tmp_path / "till.db"), "S001-T01")
    try:
        with pytest.raises(TillError) as refused:
            session.identify("06 12 34 56 78")
        assert str(refused.value) == (
            "the till is offline: it cannot find a customer by phone number; scan or type the card"
        )
    finally:
        session.close_session()


@pytest.mark.timeout(60)
def test_online_f2_finds_the_card_by_phone_and_shows_the_name_masked(tmp_path, mosquitto, monkeypatch):
    from server.storage.desk_db import open_db

    from ..fixtures.headoffice import CARDS, register_customers

    monkeypatch.setattr(requests, "ASK_TIMEOUT", 5.0)
    conn = open_db(tmp_path / "server.db")
    conn.row_factory = None
    register_customers(conn)
    conn.close()
    office = HeadOffice(tmp_path / "server.db", mosquitto.url)
    requester = Requester("S001-T02", parse_broker_url(mosquitto.url)).start()
    session = TillSession(str(tmp_path / "till.db"), "S001-T02", requester=requester, online=lambda: True)
    try:
        assert requester.ready.wait(10)
        balance = session.identify("+33 6 00 00 00 02")
        assert (balance.card, balance.first_name) == (CARDS["B"], "C*** B***")
        with pytest.raises(TillError) as refused:
            session.lookup_card("06 00 00 00 01")  # customer A did not consent
        assert str(refused.value) == (
            "no customer who agreed to be found by phone has the number 06 00 00 00 01: scan or type the card"
        )
    finally:
        session.close_session()
        requester.stop()
        office.stop()
