"""The ledger: replay-safe causes, no negative balance unless a flagged offline overdraft, FIFO expiry, tiers."""

from datetime import date, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from programme.errors import LedgerError
from programme.ledger import Entry, Ledger, expires_on, tier_status
from programme.points import default_rules

pytestmark = pytest.mark.usefixtures("english")  # written when the till spoke only English

RULES = default_rules()  # expiry 28 Feb of Y+1; tiers silver 1,500.00 EUR, gold 4,000.00 EUR; review 1 January
CARDS = ["2900000000018", "2900000000026"]
START = datetime(2024, 1, 1, tzinfo=timezone.utc)

op = st.tuples(
    st.sampled_from(["earn", "redeem", "redeem_offline", "reverse", "adjust", "transfer"]),
    st.sampled_from(CARDS),
    st.integers(1, 400),
    st.integers(0, 3 * 365 * 24),
)


def apply(ops):
    """Run operations in time order through the ledger's own checks; refusals are skipped."""
    ledger = Ledger()
    earns = []
    for n, (kind, card, points, hours) in enumerate(sorted(ops, key=lambda o: o[3])):
        at = START + timedelta(hours=hours)
        try:
            if kind == "earn":
                earns.append(ledger.earn(card, points, f"ticket:T-{n}:0", at, "base", spend_cents=points * 100))
            elif kind.startswith("redeem"):
                ledger.redeem(card, points, f"ticket:T-{n}:1", at, offline=kind == "redeem_offline")
            elif kind == "reverse" and earns:
                target = earns[points % len(earns)]
                ledger.reverse(target.card, points, f"return:R-{n}:0", at, target.cause)
            elif kind == "adjust":
                ledger.adjust(card, points if n % 2 else -points, f"desk:A-{n}", at, "goodwill")
            elif kind == "transfer":
                ledger.transfer(card, CARDS[1 - CARDS.index(card)], points, f"desk:M-{n}", at)
        except LedgerError:
            pass
    return ledger


@settings(max_examples=150, deadline=None)
@given(st.lists(op, max_size=40))
def test_replaying_any_cause_changes_nothing(ops):
    ledger = apply(ops)
    before = ({c: ledger.balance(c) for c in CARDS}, len(ledger.entries()))
    for entry in ledger.entries():
        assert ledger.post(entry) is False
    for entry in ledger.entries():
        if entry.kind == "reverse":
            ledger.reverse(entry.card, 999, entry.cause, entry.at, entry.ref)
        if entry.kind == "redeem":
            ledger.redeem(entry.card, 10**6, entry.cause, entry.at)
    assert ({c: ledger.balance(c) for c in CARDS}, len(ledger.entries())) == before


@settings(max_examples=150, deadline=None)
@given(st.lists(op, max_size=40))
def test_no_negative_balance_but_a_flagged_overdraft_and_reversals_within_earnings(ops):
    ledger = apply(ops)
    for card in CARDS:
        running = 0
        for entry in ledger.entries(card):
            running += entry.points
            if running < 0:
                assert any("overdraft" in e.flags for e in ledger.entries(card) if e.at <= entry.at)
    for entry in ledger.entries():
        if entry.kind == "earn":
            assert ledger.reversed_of(entry.cause) <= entry.points


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.tuples(st.booleans(), st.integers(1, 500), st.integers(0, 3 * 365)), max_size=40),
    st.dates(date(2024, 6, 1), date(2027, 12, 31)),
)
def test_expiry_takes_the_oldest_points_first_and_never_redeemed_ones(ops, as_of):
    ledger = Ledger()
    card = CARDS[0]
    for n, (is_earn, points, days) in enumerate(sorted(ops, key=lambda o: o[2])):
        at = START + timedelta(days=days)
        if is_earn:
            ledger.earn(card, points, f"ticket:T-{n}:0", at)
        elif points <= ledger.balance(card):
            ledger.redeem(card, points, f"ticket:T-{n}:1", at)
    earned = [e for e in ledger.entries(card) if e.kind == "earn"]
    old = sum(e.points for e in earned if expires_on(RULES, e.at) <= as_of)
    redeemed = -sum(e.points for e in ledger.entries(card) if e.kind == "redeem")
    expired = ledger.expire(RULES, as_of)
    # Redemption took from the oldest lots, so what is left of the expiring ones is what redemption did not take.
    assert -sum(e.points for e in expired) == max(0, old - redeemed)
    assert ledger.balance(card) >= 0 and ledger.expire(RULES, as_of) == []
    lots = {e.cause: e for e in earned}
    assert all(expires_on(RULES, lots[e.ref].at) <= as_of for e in expired)


def test_a_cause_reused_with_other_content_is_refused():
    ledger = Ledger()
    at = datetime(2026, 3, 1, tzinfo=timezone.utc)
    ledger.earn(CARDS[0], 10, "ticket:S001-T01-00000001:0", at)
    with pytest.raises(LedgerError) as err:
        ledger.post(Entry(CARDS[0], "earn", 11, "ticket:S001-T01-00000001:0", at))
    assert str(err.value) == (
        "cause ticket:S001-T01-00000001:0 is already in the ledger with other content: "
        "a correction is a new entry with its own cause that names the one it corrects"
    )


def test_redeem_beyond_the_balance_is_refused_online_and_flagged_offline():
    ledger = Ledger()
    at = datetime(2026, 3, 1, tzinfo=timezone.utc)
    ledger.earn(CARDS[0], 100, "ticket:A:0", at)
    with pytest.raises(LedgerError) as err:
        ledger.redeem(CARDS[0], 150, "ticket:B:1", at)
    assert str(err.value) == "not enough points: the card has 100 and 150 were asked"
    entry = ledger.redeem(CARDS[0], 150, "ticket:B:1", at, offline=True)
    assert entry.flags == ("overdraft",) and ledger.balance(CARDS[0]) == -50


def test_a_reversal_after_spending_is_short_and_flagged():
    ledger = Ledger()
    at = datetime(2026, 3, 1, tzinfo=timezone.utc)
    ledger.earn(CARDS[0], 100, "ticket:A:0", at)
    ledger.redeem(CARDS[0], 80, "ticket:B:1", at)
    entry = ledger.reverse(CARDS[0], 100, "return:R:0", at, "ticket:A:0")
    assert (entry.points, entry.flags, ledger.balance(CARDS[0])) == (-20, ("short:80",), 0)


def test_points_of_2025_expire_on_28_february_2026_oldest_first():
    ledger = Ledger()
    ledger.earn(CARDS[0], 300, "ticket:A:0", datetime(2025, 6, 1, tzinfo=timezone.utc))
    ledger.earn(CARDS[0], 200, "ticket:B:0", datetime(2026, 1, 15, tzinfo=timezone.utc))
    ledger.redeem(CARDS[0], 100, "ticket:C:1", datetime(2026, 2, 1, tzinfo=timezone.utc))  # from the 2025 lot
    assert expires_on(RULES, datetime(2025, 6, 1, tzinfo=timezone.utc)) == date(2026, 2, 28)
    assert ledger.expire(RULES, date(2026, 2, 27)) == []
    (first,) = ledger.expire(RULES, date(2026, 2, 28))
    assert (first.points, first.ref, first.cause) == (-200, "ticket:A:0", f"expire:{CARDS[0]}:ticket:A:0")
    assert ledger.expire(RULES, date(2026, 3, 1)) == [] and ledger.balance(CARDS[0]) == 200
    (second,) = ledger.expire(RULES, date(2027, 2, 28))
    assert second.points == -200 and ledger.balance(CARDS[0]) == 0


def test_tier_upgrades_at_once_and_downgrades_only_at_the_yearly_review():
    def at(y, m, d):
        return datetime(y, m, d, tzinfo=timezone.utc)

    spends = [(at(2025, 3, 1), 100_000), (at(2025, 9, 1), 60_000)]
    assert tier_status(RULES, spends, at(2025, 8, 31)) is None
    assert tier_status(RULES, spends, at(2025, 9, 1)).name == "silver"  # 1,600.00 EUR over 12 months
    # March 2026: the March 2025 spend left the window, but silver stays until the review...
    assert tier_status(RULES, spends, at(2026, 3, 2)).name == "silver"
    # ...on 1 January 2026 the 12 months held 1,600.00 EUR: kept; on 1 January 2027 only 0: down.
    assert tier_status(RULES, spends, at(2026, 12, 31)).name == "silver"
    assert tier_status(RULES, spends, at(2027, 1, 1)) is None
    spends.append((at(2026, 5, 1), 400_000))
    assert tier_status(RULES, spends, at(2026, 5, 1)).name == "gold"
