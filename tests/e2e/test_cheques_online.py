"""A loyalty cheque through a real Mosquitto: the till that takes it online asks head office first; a cheque
already spent is refused with the reason and nothing is taken."""

from __future__ import annotations

import pytest

from programme.i18n import format_date
from programme.redemption import cheque_serial
from server.desk import cheque_book
from server.ingest.store import Store
from terminal.errors import RedeemError

from ..fixtures.chain import wait_until
from .test_double_spend import CARD, OnlineTill, office  # noqa: F401 - the office fixture, seeded with 5,000 points

pytestmark = pytest.mark.usefixtures("english")  # the messages and receipts as written, in English


@pytest.mark.timeout(90)
def test_a_cheque_spent_online_is_refused_at_the_next_till(tmp_path, mosquitto, office):  # noqa: F811
    a, b, c = (OnlineTill(tmp_path, t, mosquitto.url) for t in ("S001-T01", "S001-T02", "S001-T03"))
    try:
        a.session.identify(CARD)
        a.session.scan("3000000000014@1.00")
        a.session.issue_cheques()
        a.session.pay("cash")
        issued = a.session.close().ticket
        serial = cheque_serial("S001-T01", issued.seq, 0, 500)
        assert a.till.sender.wait_synced(30)
        b.session.identify(CARD)
        b.session.scan("3000000000014@12.00")
        assert b.session.spend_cheque(serial) == f"loyalty cheque {serial}: €5.00"
        b.session.pay("cash")
        spent = b.session.close().ticket
        assert b.till.sender.wait_synced(30)
        c.session.identify(CARD)
        c.session.scan("3000000000014@12.00")
        with pytest.raises(RedeemError) as refused:
            c.session.spend_cheque(serial)
        assert str(refused.value) == (
            f"loyalty cheque {serial} was already spent on {format_date(spent.closed_at)} "
            f"(ticket {spent.id}): keep it and send the customer to the welcome desk"
        )
        assert c.session.basket.tenders == []
        store = Store(office.db)
        try:
            wait_until(lambda: cheque_book.find(store.conn, serial).state == "spent", 10, "cheque spent")
            assert store.conn.execute("SELECT count(*) FROM discrepancies").fetchone() == (0,)
        finally:
            store.close()
    finally:
        for till in (a, b, c):
            till.close()
