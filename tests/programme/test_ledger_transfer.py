"""Points moved between cards keep their lots: the oldest go first and arrive with their own dates."""

from collections import Counter
from datetime import date, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from programme.errors import LedgerError
from programme.ledger import Entry, Ledger, expires_on, lots_to_move
from programme.points import default_rules

RULES = default_rules()  # points of year Y expire on 28 February of Y+1
CARDS = ["2900000000018", "2900000000025"]
START = datetime(2024, 1, 1, tzinfo=timezone.utc)


def at(y, m, d):
    return datetime(y, m, d, 12, tzinfo=timezone.utc)


def by_expiry(ledger: Ledger, cards=CARDS) -> Counter:
    """Points left per expiry date, all cards together."""
    found = Counter()
    for card in cards:
        for lot in ledger.lots(card):
            if lot.left:
                found[expires_on(RULES, lot.at)] += lot.left
    return found


def test_a_partial_transfer_takes_the_oldest_lots_and_the_target_keeps_their_dates():
    ledger = Ledger()
    ledger.earn(CARDS[0], 100, "ticket:A:0", at(2025, 3, 1))
    ledger.earn(CARDS[0], 50, "ticket:B:0", at(2025, 11, 2))
    ledger.earn(CARDS[0], 80, "ticket:C:0", at(2026, 1, 10))
    ledger.redeem(CARDS[0], 30, "ticket:D:1", at(2026, 1, 12))  # from the March 2025 lot
    ledger.earn(CARDS[1], 20, "ticket:E:0", at(2026, 1, 5))
    out, into = ledger.transfer(CARDS[0], CARDS[1], 100, "desk:7", at(2026, 2, 1))
    assert (out.points, out.at, out.cause) == (-100, at(2026, 2, 1), "desk:7:out")
    assert [(e.card, e.points, e.cause, e.at, e.lot_at) for e in into] == [
        (CARDS[1], 70, "desk:7:in:0", at(2026, 2, 1), at(2025, 3, 1)),
        (CARDS[1], 30, "desk:7:in:1", at(2026, 2, 1), at(2025, 11, 2)),
    ]
    assert [(lot.at, lot.left) for lot in ledger.lots(CARDS[0]) if lot.left] == [
        (at(2025, 11, 2), 20),
        (at(2026, 1, 10), 80),
    ]
    assert [(lot.at, lot.left) for lot in ledger.lots(CARDS[1])] == [
        (at(2025, 3, 1), 70),
        (at(2025, 11, 2), 30),
        (at(2026, 1, 5), 20),
    ]
    # The moved points expire on the 2025 schedule, on the card they went to.
    expired = ledger.expire(RULES, date(2026, 2, 28))
    assert sorted((e.card, e.points, e.ref) for e in expired) == [
        (CARDS[0], -20, "ticket:B:0"),
        (CARDS[1], -70, "desk:7:in:0"),
        (CARDS[1], -30, "desk:7:in:1"),
    ]
    assert (ledger.balance(CARDS[0]), ledger.balance(CARDS[1])) == (80, 20)


def test_a_replayed_transfer_adds_nothing_even_after_the_lots_changed():
    ledger = Ledger()
    ledger.earn(CARDS[0], 100, "ticket:A:0", at(2025, 3, 1))
    ledger.earn(CARDS[0], 100, "ticket:B:0", at(2026, 1, 3))
    first = ledger.transfer(CARDS[0], CARDS[1], 150, "desk:9", at(2026, 2, 1))
    ledger.redeem(CARDS[1], 10, "ticket:C:1", at(2026, 2, 2))
    count = len(ledger.entries())
    assert ledger.transfer(CARDS[0], CARDS[1], 150, "desk:9", at(2026, 2, 3)) == first
    assert len(ledger.entries()) == count
    assert (ledger.balance(CARDS[0]), ledger.balance(CARDS[1])) == (50, 140)


def test_moving_more_than_the_balance_or_to_the_same_card_is_refused():
    ledger = Ledger()
    ledger.earn(CARDS[0], 10, "ticket:A:0", at(2025, 3, 1))
    with pytest.raises(LedgerError) as err:
        ledger.transfer(CARDS[0], CARDS[1], 11, "desk:1", at(2026, 1, 1))
    assert str(err.value) == f"card {CARDS[0]} has 10 points, 11 cannot be moved"
    with pytest.raises(LedgerError) as err:
        ledger.transfer(CARDS[0], CARDS[0], 5, "desk:2", at(2026, 1, 1))
    assert str(err.value) == f"card {CARDS[0]} cannot move points to itself"
    with pytest.raises(LedgerError) as err:
        ledger.post(Entry(CARDS[0], "transfer", -5, "desk:3:out", at(2026, 1, 1), lot_at=at(2025, 1, 1)))
    assert str(err.value) == "only a credit has a lot date: entry desk:3:out is -5 points"
    with pytest.raises(LedgerError) as err:
        lots_to_move(ledger.lots(CARDS[0]), 11)
    assert str(err.value) == "the lots hold 10 points, 11 cannot be moved"
    assert len(ledger.entries()) == 1


op = st.tuples(
    st.sampled_from(["earn", "redeem", "redeem_offline", "reverse", "transfer"]),
    st.sampled_from(CARDS),
    st.integers(1, 400),
    st.integers(0, 3 * 365 * 24),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(op, max_size=40))
def test_lots_left_add_up_to_the_balance_and_a_transfer_never_delays_an_expiry(ops):
    ledger = Ledger()
    earns = []
    for n, (kind, card, points, hours) in enumerate(sorted(ops, key=lambda o: o[3])):
        when = START + timedelta(hours=hours)
        other = CARDS[1 - CARDS.index(card)]
        if kind == "earn":
            earns.append(ledger.earn(card, points, f"ticket:T-{n}:0", when))
        elif kind.startswith("redeem") and (kind == "redeem_offline" or points <= ledger.balance(card)):
            ledger.redeem(card, points, f"ticket:T-{n}:1", when, offline=kind == "redeem_offline")
        elif kind == "reverse" and earns:
            target = earns[points % len(earns)]
            ledger.reverse(target.card, points, f"return:R-{n}:0", when, target.cause)
        elif kind == "transfer" and 0 < ledger.balance(card):
            points = min(points, ledger.balance(card))
            debt = -min(ledger.balance(other), 0)
            before = by_expiry(ledger)
            _, into = ledger.transfer(card, other, points, f"desk:M-{n}", when)
            after = by_expiry(ledger)
            assert sum(e.points for e in into) == points and all(e.lot_at <= when for e in into)
            # Every point keeps its expiry date or, paying back the target's overdraft, goes: none expires later.
            assert all(after[day] <= before[day] for day in after)
            assert sum(before.values()) - sum(after.values()) == min(debt, points)
        for each in CARDS:
            assert sum(lot.left for lot in ledger.lots(each)) == max(ledger.balance(each), 0)
