"""Two tills and one card's points, through a real Mosquitto: online, head office reserves the points for the
first till and refuses the second with what is left; offline, both spend under the cap and head office flags
the overdraft naming the card and both tickets."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from server.ingest import overdraft
from server.ingest.store import Store
from sync.broker_url import parse_broker_url
from terminal import requests
from terminal.cardstate import remember_balance
from terminal.errors import RedeemError
from terminal.requests import Requester
from terminal.till import TillSession

from ..fixtures.chain import Till, wait_until
from ..terminal.test_requests import HeadOffice

pytestmark = pytest.mark.usefixtures("english")  # written when the till spoke only English

CARD = "2900000000018"


def seed(db, points: int, card: str = CARD) -> None:
    """The card's points at head office (a desk adjustment), before any till sells."""
    store = Store(db)
    try:
        with store.conn:
            store.conn.execute(
                "INSERT INTO ledger (card, kind, points, rule, cause, ticket_id, at) VALUES "
                "(?, 'adjust', ?, 'welcome gift', ?, NULL, ?)",
                (card, points, f"desk:{card}", datetime.now(timezone.utc).isoformat()),
            )
    finally:
        store.close()


def server_points(db, card: str = CARD) -> int:
    store = Store(db)
    try:
        return store.balances([card]).get(card, 0)
    finally:
        store.close()


class OnlineTill:
    """A till with its sync worker and its requester, online, and the cashier's session."""

    def __init__(self, tmp_path, terminal: str, url: str):
        self.till = Till(tmp_path, terminal)
        self.till.connect(url)
        self.requester = Requester(terminal, parse_broker_url(url)).start()
        assert self.requester.ready.wait(10)
        self.session = TillSession(
            self.till.journal.path, terminal, requester=self.requester, online=lambda: self.till.sender.status.connected
        )
        wait_until(lambda: self.till.sender.status.connected, 10, f"{terminal} online")

    def close(self) -> None:
        self.session.close_session()
        self.requester.stop()
        self.till.close()


@pytest.fixture
def office(tmp_path, mosquitto, monkeypatch):
    monkeypatch.setattr(requests, "ASK_TIMEOUT", 5.0)  # a loaded machine must not turn an answer into a timeout
    head = HeadOffice(tmp_path / "server.db", mosquitto.url)
    seed(head.db, 5000)
    yield head
    head.stop()


@pytest.mark.timeout(90)
def test_the_second_online_till_is_refused_the_points_the_first_holds(tmp_path, mosquitto, office):
    a, b = OnlineTill(tmp_path, "S001-T01", mosquitto.url), OnlineTill(tmp_path, "S001-T02", mosquitto.url)
    try:
        for till in (a, b):
            assert till.session.identify(CARD).points == 5000
            till.session.scan("3000000000014@50.00")
        assert a.session.redeem(5000).points == 5000
        with pytest.raises(RedeemError) as refused:
            b.session.redeem(5000)
        assert str(refused.value) == (
            "no points available: another till holds a reservation of 5000 points on "
            "this card; wait until that sale closes"
        )
        assert b.session.basket.redeemed_points == 0
        closed = a.session.close()
        a.till.sender.wake()
        assert a.till.sender.wait_synced(30)
        assert server_points(office.db) == 5000 - 5000 + closed.ticket.points_earned >= 0
        with pytest.raises(RedeemError) as refused:  # the points are spent: B still believes its balance of 5,000
            b.session.redeem(5000)
        left = server_points(office.db)
        assert str(refused.value) == (
            f"only {left} points available at head office for this card, 5000 asked; redeem at most {left}"
        )
        b.session.cancel()
    finally:
        a.close()
        b.close()
    store = Store(office.db)
    try:
        assert store.conn.execute("SELECT status, ticket_id FROM reservations").fetchall() == [
            ("consumed", "S001-T01-00000001")
        ]
        assert overdraft.recent(store.conn) == []
    finally:
        store.close()


@pytest.mark.timeout(90)
def test_a_cancelled_sale_releases_its_points_to_the_other_till(tmp_path, mosquitto, office):
    a, b = OnlineTill(tmp_path, "S001-T01", mosquitto.url), OnlineTill(tmp_path, "S001-T02", mosquitto.url)
    try:
        for till in (a, b):
            till.session.identify(CARD)
            till.session.scan("3000000000014@30.00")
        assert a.session.redeem(3000).points == 3000
        a.session.cancel()  # released at head office, without waiting for an answer
        store = Store(office.db)
        try:
            wait_until(
                lambda: store.conn.execute("SELECT status FROM reservations").fetchone()[0] == "released",
                10,
                "the release at head office",
            )
        finally:
            store.close()
        assert b.session.redeem(3000).points == 3000
    finally:
        a.close()
        b.close()


@pytest.mark.timeout(90)
def test_without_an_answer_the_offline_cap_applies(tmp_path, mosquitto, office, monkeypatch):
    a = OnlineTill(tmp_path, "S001-T01", mosquitto.url)
    try:
        a.session.identify(CARD)
        a.session.scan("3000000000014@50.00")
        office.uplink.stop()  # head office stops answering; the broker is still there
        monkeypatch.setattr(requests, "ASK_TIMEOUT", 0.3)
        plan = a.session.redeem(5000)
        assert (plan.points, plan.note) == (
            2000,
            "head office did not answer in time: the offline cap applies; "
            "offline cap: at most 2000 points a day per card while the till "
            "is offline (0 already today), so 2000 points are redeemed",
        )
    finally:
        a.close()


@pytest.mark.timeout(90)
def test_two_offline_tills_overdraw_the_card_and_head_office_flags_it(tmp_path, mosquitto, office):
    card = "2900000000025"
    seed(office.db, 3000, card)
    seen = datetime.now(timezone.utc)
    tills = [Till(tmp_path, "S001-T01"), Till(tmp_path, "S001-T02")]
    spent = []
    for till in tills:  # both knew the card's 3,000 points when they went offline
        remember_balance(till.journal.conn, card, 3000, seen, as_of_seq=0)
        session = TillSession(till.journal.path, till.terminal, online=lambda: False)
        session.identify(card)
        session.scan("3000000000014@20.00")
        assert session.redeem(2000).points == 2000  # under the offline cap of 2,000 a day per card
        spent.append(session.close().ticket.id)
        session.close_session()
    for till in tills:
        till.connect(mosquitto.url)
    try:
        for till in tills:
            assert till.sender.wait_synced(30)
        left = server_points(office.db, card)
        assert left == 3000 - 4000 + 2 * 20  # 20 points earned on each ticket
        store = Store(office.db)
        try:
            flagged = overdraft.recent(store.conn)
        finally:
            store.close()
        assert [(f["card"], f["balance"], f["tickets"]) for f in flagged] == [(card, left, sorted(spent))]
    finally:
        for till in tills:
            till.close()


@pytest.mark.timeout(90)
def test_the_cashier_screen_shows_head_office_refusal(tmp_path, mosquitto, office):
    """Through the Textual screen: F6 and F9 ask head office in a worker and show its refusal; then what is left."""
    from terminal.app import TillApp

    from ..terminal.test_app import SIZE, identify, pilot_test, text_of, type_in
    from ..terminal.test_requests import wait_online

    a = OnlineTill(tmp_path, "S001-T01", mosquitto.url)
    try:
        a.session.identify(CARD)
        a.session.scan("3000000000014@10.00")
        assert a.session.redeem(1000).points == 1000  # 4,000 left for other tills

        @pilot_test
        async def at_till_b():
            app = TillApp(str(tmp_path / "till-b.db"), "S001-T02", broker=parse_broker_url(mosquitto.url))
            async with app.run_test(size=SIZE) as pilot:
                await wait_online(app)
                await type_in(pilot, "3000000000014@50.00")
                await identify(app, pilot)
                await pilot.press("f6")
                await type_in(pilot, "5000")
                await app.workers.wait_for_complete()
                await pilot.pause()
                assert text_of(app, "#message") == (
                    "only 4000 points available: another till holds a reservation "
                    "of 1000 points on this card; redeem at most 4000"
                )
                await pilot.press("f9")  # cheques from the 5,000 points B knows: head office says what is left
                await app.workers.wait_for_complete()
                await pilot.pause()
                assert text_of(app, "#message") == (
                    "only 4000 points available: another till holds a reservation "
                    "of 1000 points on this card; redeem at most 4000"
                )
                await pilot.press("f6")
                await type_in(pilot, "4000")
                await app.workers.wait_for_complete()
                await pilot.pause()
                assert text_of(app, "#message") == "4000 points redeemed for €40.00"
                assert len(app.session.basket.reservations) == 1

        at_till_b()
    finally:
        a.close()


@pytest.mark.timeout(90)
def test_points_reserved_for_a_ticket_cancelled_meanwhile_are_given_back(tmp_path, mosquitto, office):
    """The screen asks in a worker; the cashier cancels before the answer is applied: the points go back."""
    a, b = OnlineTill(tmp_path, "S001-T01", mosquitto.url), OnlineTill(tmp_path, "S001-T02", mosquitto.url)
    try:
        a.session.identify(CARD)
        a.session.scan("3000000000014@50.00")
        answer = a.session.reserve(a.session.hold_for(5000))  # what the worker got
        assert answer.found
        a.session.cancel()
        with pytest.raises(RedeemError):
            a.session.redeem(5000, answer)
        store = Store(office.db)
        try:
            wait_until(
                lambda: store.conn.execute("SELECT status FROM reservations").fetchone()[0] == "released",
                10,
                "the points given back",
            )
        finally:
            store.close()
        b.session.identify(CARD)
        b.session.scan("3000000000014@50.00")
        assert b.session.redeem(5000).points == 5000
    finally:
        a.close()
        b.close()


@pytest.mark.timeout(90)
def test_points_reserved_for_one_card_never_pay_with_another(tmp_path, mosquitto, office):
    """The cashier identifies another card while head office answers: the answer is for the first card's points."""
    a = OnlineTill(tmp_path, "S001-T01", mosquitto.url)
    try:
        a.session.identify(CARD)
        a.session.scan("3000000000014@50.00")
        hold = a.session.hold_for(5000)
        answer = a.session.reserve(hold)
        assert answer.found
        seed(office.db, 5000, "2900000000025")
        a.session.identify("2900000000025")
        with pytest.raises(RedeemError) as refused:
            a.session.redeem(5000, answer, hold)
        assert str(refused.value) == "the ticket changed while head office answered: redeem the points again"
        assert a.session.basket.redeemed_points == 0 and a.session.basket.reservations == []
        store = Store(office.db)
        try:
            wait_until(
                lambda: store.conn.execute("SELECT status FROM reservations").fetchone()[0] == "released",
                10,
                "the points given back",
            )
        finally:
            store.close()
    finally:
        a.close()
