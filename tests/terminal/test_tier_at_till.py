"""The till applies the card's tier it knows (head office's balance reply) and says on the receipt what it gave;
offline it uses the last tier it knew and says so."""

import pytest

from terminal import cardstate
from terminal.till import TillSession

pytestmark = pytest.mark.usefixtures("english")  # the messages and receipts as written, in English

CARD = "2900000000018"
OIL = "3000000000014"  # 5.00 EUR in the generated catalogue? priced below to be sure


@pytest.fixture
def session(tmp_path):
    till = TillSession(str(tmp_path / "till.db"), "S001-T01", cashier="alice")
    yield till
    till.close_session()


def sell_100_eur(session, online: bool):
    session.online = lambda: online
    cardstate.remember_balance(session.journal.conn, CARD, 40, "2026-01-01T00:00:00+00:00", tier="gold")
    session.identify(CARD)
    session.scan(f"{OIL}@100.00")
    session.pay("cash")
    return session.close()


def test_a_gold_card_earns_the_gold_tier_points_at_the_till(session):
    closed = sell_100_eur(session, online=True)
    rules = {e.rule: e.points for e in closed.ticket.points if e.kind == "earn" and e.points}
    # default rules: 1 point a euro, gold 125 %: 100 base + 25 for the tier
    assert rules == {"base": 100, "tier:gold": 25}
    assert closed.ticket.points_earned == 125
    assert "  gold tier extra points" in closed.receipt
    assert "  gold tier extra points".ljust(40) + "25\n" in closed.receipt


def test_an_offline_till_uses_the_last_tier_it_knew_and_says_so(session):
    closed = sell_100_eur(session, online=False)
    assert closed.ticket.points_earned == 125
    assert "  gold tier (last known, offline)" in closed.receipt
