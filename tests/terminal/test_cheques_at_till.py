"""Loyalty cheques at the till: each cheque issued is printed with its own serial (check digit, Code128 barcode);
a cheque is taken as a tender by its serial only, never twice at one till, and offline under a cap."""

import re
import pytest

from programme.errors import RedemptionError
from programme.redemption import OFFLINE_CHEQUE_CAP_CENTS, cheque_serial
from terminal import cardstate
from terminal.errors import BasketError, RedeemError
from terminal.till import TillSession

from .test_app import SIZE, identify, pilot_test, text_of, type_in

pytestmark = pytest.mark.usefixtures("english")  # the messages and receipts as written, in English

CARD = "2900000000018"
OTHER = "2900000000025"
OIL = "3000000000014"


@pytest.fixture
def session(tmp_path):
    till = TillSession(str(tmp_path / "till.db"), "S001-T01", cashier="alice")
    yield till
    till.close_session()


def test_each_cheque_issued_is_printed_with_its_own_serial_and_barcode(session):
    cardstate.remember_balance(session.journal.conn, CARD, 1007, "2026-01-01T00:00:00+00:00")
    session.identify(CARD)
    session.scan(f"{OIL}@1.00")
    session.issue_cheques()
    session.basket.pay("cash")
    closed = session.close()
    serials = [cheque_serial("S001-T01", closed.ticket.seq, rank, 500) for rank in range(2)]
    assert len(closed.cheques) == 2
    for slip, serial in zip(closed.cheques, serials):
        assert f"\nserial {serial:>35}\n" in slip
        assert re.search(r"\nvalue +€5\.00\n", slip)
    printed = session.printer.output
    assert printed.count(b"\x1dkI") == 2  # GS k 73: a Code128 barcode per cheque


def test_a_cheque_tender_is_taken_by_its_number_only(session):
    session.identify(CARD)
    session.scan(f"{OIL}@10.00")
    with pytest.raises(BasketError) as refused:
        session.pay("cheque", 500)
    assert str(refused.value) == (
        "a loyalty cheque is taken by its number: type cheque then the 26 digits under its barcode, or scan it"
    )


def test_a_serial_with_a_wrong_check_digit_is_refused(session):
    session.identify(CARD)
    session.scan(f"{OIL}@10.00")
    serial = cheque_serial("S001-T02", 7, 0, 500)
    wrong = serial[:-1] + str((int(serial[-1]) + 1) % 10)
    with pytest.raises(RedemptionError) as refused:
        session.spend_cheque(wrong)
    assert str(refused.value) == (
        f"loyalty cheque {wrong} has a wrong check digit: scan the barcode again or check the digits typed"
    )
    with pytest.raises(RedemptionError) as refused:
        session.spend_cheque("12345")
    assert str(refused.value) == (
        "12345 is not a loyalty cheque number: scan its barcode or type the 26 digits under it"
    )


def test_offline_a_cheque_is_taken_under_the_cap_and_never_twice_at_this_till(session):
    serial = cheque_serial("S001-T02", 7, 0, 500)
    session.identify(CARD)
    session.scan(f"{OIL}@12.00")
    said = session.spend_cheque(serial)
    assert said == (
        f"loyalty cheque {serial}: €5.00; offline: taken under the offline cap; head office checks "
        "it when the till syncs"
    )
    session.pay("cash")
    closed = session.close()
    assert [(t.kind, t.cents, t.serial) for t in closed.ticket.tenders][0] == ("cheque", 500, serial)
    session.identify(CARD)
    session.scan(f"{OIL}@12.00")
    with pytest.raises(RedeemError) as refused:
        session.spend_cheque(serial)
    assert str(refused.value) == (
        f"loyalty cheque {serial} was already taken at this till (ticket {closed.ticket.id}): a cheque pays once"
    )
    # the cap: 20.00 EUR of cheques a day per card offline, 5.00 already taken
    big = cheque_serial("S001-T02", 8, 0, OFFLINE_CHEQUE_CAP_CENTS - 400)
    with pytest.raises(RedemptionError) as refused:
        session.spend_cheque(big)
    assert str(refused.value).startswith("offline cap: this till takes at most ")
    assert str(refused.value).endswith(
        " in loyalty cheques a day per card while it cannot reach head office, "
        "€5.00 already taken; take the cheque once the till is back online"
    )


def test_a_cheque_worth_more_than_is_due_pays_what_is_due(session):
    session.identify(CARD)
    session.scan(f"{OIL}@3.00")
    session.spend_cheque(cheque_serial("S001-T02", 9, 0, 500))
    assert session.basket.due_cents == 0 and session.basket.tenders[0].cents == 300


@pilot_test
async def test_the_cashier_takes_a_cheque_by_its_serial_on_the_pay_key(tmp_path):
    from terminal.app import TillApp

    app = TillApp(str(tmp_path / "till.db"), "S001-T01")
    serial = cheque_serial("S001-T02", 7, 0, 500)
    async with app.run_test(size=SIZE) as pilot:
        await type_in(pilot, f"{OIL}@5.00")
        await identify(app, pilot)
        await pilot.press("f10")
        await type_in(pilot, f"cheque {serial}")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert text_of(app, "#message") == "ticket S001-T01-00000001 closed; receipt on request: F5"
        assert "serial" not in text_of(app, "#receipt") and "loyalty cheque" in text_of(app, "#receipt")
