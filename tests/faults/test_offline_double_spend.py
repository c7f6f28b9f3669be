"""The fault run of issue 20, through a real Mosquitto: two tills go offline (the broker stops) and each takes the
same loyalty cheque and spends the card's points beyond its balance. Once the broker is back and both have
synced, head office shows exactly those discrepancies (the second spend of the cheque, naming both tickets; the
card overdrawn, naming both tickets) and nothing was lost: every ticket stored, every ledger entry booked."""

from __future__ import annotations

import pytest

from programme.redemption import cheque_serial
from programme.ticket import signed_points
from server.analytics.exceptions import exceptions
from server.desk import cheque_book
from server.ingest.store import Store
from sync.broker_url import parse_broker_url
from terminal import requests
from terminal.requests import Requester
from terminal.till import TillSession

from ..e2e.test_double_spend import seed
from ..fixtures.chain import Till, wait_until
from ..terminal.test_requests import HeadOffice

pytestmark = pytest.mark.usefixtures("english")  # the messages and receipts as written, in English

CARD = "2900000000018"


class StoreTill:
    """A till with its sync worker and requester: online while the broker is up, offline while it is down."""

    def __init__(self, tmp_path, terminal: str, url: str):
        self.till = Till(tmp_path, terminal)
        self.till.connect(url)
        self.requester = Requester(terminal, parse_broker_url(url)).start()
        self.session = TillSession(
            self.till.journal.path, terminal, requester=self.requester, online=lambda: self.till.sender.status.connected
        )
        wait_until(
            lambda: self.till.sender.status.connected and self.requester.ready.is_set(), 15, f"{terminal} online"
        )

    def close(self) -> None:
        self.session.close_session()
        self.requester.stop()
        self.till.close()


@pytest.mark.timeout(150)
def test_two_offline_tills_spend_the_same_cheque_and_points_head_office_flags_exactly_that(
    tmp_path, mosquitto, monkeypatch
):
    monkeypatch.setattr(requests, "ASK_TIMEOUT", 5.0)
    office = HeadOffice(tmp_path / "server.db", mosquitto.url)
    seed(office.db, 700)
    tills = [StoreTill(tmp_path, t, mosquitto.url) for t in ("S001-T01", "S001-T02", "S001-T03")]
    issuing, a, b = tills
    try:
        # Online: a 5.00 EUR cheque for 500 of the card's 700 points; the other two tills read the balance.
        issuing.session.identify(CARD)
        issuing.session.scan("3000000000014@1.00")
        issuing.session.issue_cheques()
        issuing.session.pay("cash")
        issued = issuing.session.close().ticket
        assert issuing.till.sender.wait_synced(30)
        serial = cheque_serial("S001-T01", issued.seq, 0, 500)
        for till in (a, b):
            assert till.session.identify(CARD).points == 201  # 700 + 1 earned - 500 in the cheque
            till.session.cancel()
        mosquitto.stop()  # the store's network is down: both tills sell offline
        wait_until(
            lambda: not a.till.sender.status.connected and not b.till.sender.status.connected, 15, "tills offline"
        )
        sold = []
        for till in (a, b):
            balance = till.session.identify(CARD)
            assert not balance.confirmed and balance.points == 201
            till.session.scan("3000000000014@20.00")
            assert "offline" in till.session.spend_cheque(serial)
            assert till.session.redeem(201).points == 201  # under the offline cap of 2,000 a day
            till.session.pay("cash")
            sold.append(till.session.close().ticket)
        first, second = sold
        mosquitto.start()
        assert a.till.sender.wait_synced(60), a.till.sender.status
        assert b.till.sender.wait_synced(60), b.till.sender.status
    finally:
        for till in tills:
            till.close()
        office.stop()
    store = Store(office.db)
    try:
        conn = store.conn
        # Nothing lost: every ticket stored once, in order, nothing dead or quarantined.
        stats = store.stats()
        assert (stats["tickets"], stats["dead_letters"], stats["quarantined"], stats["gaps_detected"]) == (3, 0, 0, 0)
        assert {t: s["contiguous_seq"] for t, s in stats["terminals"].items()} == {
            "S001-T01": 1,
            "S001-T02": 1,
            "S001-T03": 1,
        }
        # Every ticket's points booked as sent (the rules agree), so the card is overdrawn by the second spend.
        booked = sum(signed_points(e) for t in (issued, first, second) for e in t.points)
        assert conn.execute("SELECT sum(points) FROM ledger WHERE card = ?", (CARD,)).fetchone()[0] == 700 + booked
        # Exactly these discrepancies: the cheque's second spend, naming both tickets (both tills reconnect at once:
        # whichever head office stored first spent the cheque)...
        taken = cheque_book.find(conn, serial).spent_ticket
        assert taken in (first.id, second.id)
        again = second.id if taken == first.id else first.id
        assert conn.execute("SELECT ticket_id, reason FROM discrepancies").fetchall() == [
            (again, f"cheque {serial} spent twice: tickets {taken} and {again}")
        ]
        # ...and one overdraft of the card, naming the tickets that took its points that day (both spends among them).
        balance = 700 + booked
        assert balance == 700 + 1 - 500 + 2 * (20 - 201) < 0
        assert conn.execute("SELECT card, balance, tickets FROM overdrafts").fetchall() == [
            (CARD, balance, f"{issued.id} {first.id} {second.id}")
        ]
        found = {section.id: rows for section, rows in exceptions(conn)}
        assert [sorted(r.tickets) for r in found["cheques-twice"]] == [[first.id, second.id]]
        assert [r.what for r in found["overdrafts"]] == [f"card {CARD} overdrawn: balance {balance} points"]
        assert found["several-stores"] == [] and found["returns-without-original"] == []
    finally:
        store.close()
