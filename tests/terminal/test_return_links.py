"""A return ticket closed at the till names, line by line, what it takes back of its original."""

import msgspec
import pytest

from programme.ticket import ReturnLink
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
