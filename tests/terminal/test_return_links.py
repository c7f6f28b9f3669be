"""A return ticket closed at the till names, line by line, what it takes back of its original."""

import msgspec
import pytest

from programme.ticket import ReturnLink, Tender, make_line
from terminal.errors import ReturnError
from terminal.till import TillSession

CARD = "2900000000018"
RAZORS, OIL = "3000000000007", "3000000000014"


@pytest.fixture
def session(tmp_path):
    till = TillSession(str(tmp_path / "till.db"), "S001-T01", cashier="alice")
    yield till
    till.close_session()


def test_the_return_ticket_carries_its_links_with_the_points_reversed(session):
    session.identify(CARD)
    session.scan(f"3*{OIL}")
    session.scan(RAZORS)
    session.pay("cash")
    sale = session.close().ticket
    back = session.return_lines(sale.id, {1: 1, 0: 2}).ticket
    reversed_by_line = {e.line: e.points for e in back.points if e.kind == "reverse"}
    assert back.returns == [
        ReturnLink(line=0, original=sale.id, original_line=0, quantity=2, points=reversed_by_line.get(0, 0)),
        ReturnLink(line=1, original=sale.id, original_line=1, quantity=1, points=reversed_by_line.get(1, 0)),
    ]
    assert sum(r.points for r in back.returns) == sum(e.points for e in back.points) > 0
    assert session.journal.find_ticket(back.id).returns == back.returns  # as journaled and sent
    assert session.journal.find_ticket(sale.id).returns is msgspec.UNSET  # a sale has no links at all


def close_another_sale_meanwhile(monkeypatch, session):
    """Another close comes between the return's refund (its sequence taken) and its own close."""
    import terminal.returns as returns

    planned = returns.refund_tenders

    def then_another_sale(journal, *args):
        tenders = planned(journal, *args)
        line = make_line(OIL, 1, 250, "grocery", "Oil")
        journal.close_ticket(
            cashier="bob", lines=[line], tenders=[Tender("cash", 250)], card=None, points=[], rules_version="2026.1"
        )
        return tenders

    monkeypatch.setattr(returns, "refund_tenders", then_another_sale)


def test_a_return_overtaken_by_another_close_is_refused_in_french(session, monkeypatch):
    session.scan(RAZORS)
    session.pay("cash")
    sale = session.close().ticket
    close_another_sale_meanwhile(monkeypatch, session)
    with pytest.raises(ReturnError) as refused:
        session.return_lines(sale.id, {0: 1})
    assert str(refused.value) == "la caisse a clôturé un autre ticket entre-temps : reprenez le retour"
    assert session.journal.find_ticket(f"S001-T01-{sale.seq + 2:08d}") is None  # nothing half-written


@pytest.mark.usefixtures("english")
def test_a_return_overtaken_by_another_close_is_refused_in_english(session, monkeypatch):
    session.scan(RAZORS)
    session.pay("cash")
    sale = session.close().ticket
    close_another_sale_meanwhile(monkeypatch, session)
    with pytest.raises(ReturnError) as refused:
        session.return_lines(sale.id, {0: 1})
    assert str(refused.value) == "the till closed another ticket meanwhile: take the return again"
