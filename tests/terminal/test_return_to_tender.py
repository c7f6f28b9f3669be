"""A return refunds to the original ticket's tenders: the points part back to the card as points (never more than
the ticket took), a loyalty cheque part as a new cheque, the rest in cash."""

import pytest

from programme.redemption import cheque_serial
from terminal import cardstate
from terminal.till import TillSession

pytestmark = pytest.mark.usefixtures("english")  # the messages and receipts as written, in English

CARD = "2900000000018"
OIL = "3000000000014"


@pytest.fixture
def session(tmp_path):
    till = TillSession(str(tmp_path / "till.db"), "S001-T01", cashier="alice")
    yield till
    till.close_session()


def sold(session):
    """20.00 EUR: 600 points (6.00), a 5.00 loyalty cheque, 9.00 cash."""
    cardstate.remember_balance(session.journal.conn, CARD, 2000, "2026-01-01T00:00:00+00:00")
    session.identify(CARD)
    session.scan(f"2*{OIL}@10.00")
    session.redeem(600)
    session.spend_cheque(cheque_serial("S001-T02", 3, 0, 500))
    session.pay("cash")
    return session.close().ticket


def test_a_return_refunds_points_as_points_a_cheque_part_as_a_new_cheque_and_the_rest_in_cash(session):
    original = sold(session)
    before = cardstate.card_balance(session.journal.conn, CARD, False).points
    half = session.return_lines(original.id, {0: 1}, ask=False)
    ticket = half.ticket
    refund_cheque = cheque_serial("S001-T01", ticket.seq, 0, 250)
    assert [(t.kind, t.cents, t.serial if t.kind == "cheque" else None) for t in ticket.tenders] == [
        ("points", -300, None),
        ("cheque", -250, refund_cheque),
        ("cash", -450, None),
    ]
    refunds = [(e.kind, e.rule, e.points) for e in ticket.points if e.rule.startswith("refund")]
    assert refunds == [("earn", f"refund: points tender of {original.id}", 300)]
    reversed_points = sum(e.points for e in ticket.points if e.kind == "reverse")
    assert cardstate.card_balance(session.journal.conn, CARD, False).points == before + 300 - reversed_points
    assert len(half.cheques) == 1 and f"serial {refund_cheque:>35}" in half.cheques[0]
    rest = session.return_lines(original.id, {0: 1}, ask=False).ticket
    points_back = sum(e.points for t in (ticket, rest) for e in t.points if e.rule.startswith("refund"))
    assert points_back == 600  # never more than the ticket took
    assert sum(-t.cents for t in rest.tenders if t.kind == "cheque") + 250 == 500


def test_a_return_of_a_cash_ticket_refunds_cash_as_before(session):
    session.identify(CARD)
    session.scan(f"{OIL}@10.00")
    session.pay("cash")
    original = session.close().ticket
    ticket = session.return_lines(original.id, {0: 1}, ask=False).ticket
    assert [(t.kind, t.cents) for t in ticket.tenders] == [("cash", -1000)]
