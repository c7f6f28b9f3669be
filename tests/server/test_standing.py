"""The desk's fast tier computation gives exactly programme.ledger's tier on any history."""
from datetime import datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from programme.ledger import tier_status
from programme.points import default_rules
from programme.rules import Tier
from server.standing import fast_tier_status

START = datetime(2024, 1, 1, tzinfo=timezone.utc)
moments = st.integers(0, 3 * 365 * 24).map(lambda h: START + timedelta(hours=h))
spends = st.lists(st.tuples(moments, st.integers(-50_000, 300_000)), max_size=60)
# Valid rules (programme.rules.check_rules): unique names, thresholds strictly rising.
tier_lists = st.lists(st.integers(0, 900_000), max_size=4, unique=True).map(
    lambda mins: [Tier(name=f"t{n}", min_spend_cents=m, percent=100 + 10 * n) for n, m in enumerate(sorted(mins))])


@settings(max_examples=300, deadline=None)
@given(spends=spends, as_of=moments, tiers=tier_lists)
def test_fast_tier_status_equals_the_ledger_maths(spends, as_of, tiers):
    import msgspec

    rules = msgspec.structs.replace(default_rules(), tiers=tiers)
    assert fast_tier_status(rules, spends, as_of) == tier_status(rules, spends, as_of)


def test_default_rules_tiers_at_the_thresholds():
    rules = default_rules()
    at = datetime(2026, 6, 1, tzinfo=timezone.utc)
    assert fast_tier_status(rules, [(at - timedelta(days=10), 149_999)], at) is None
    assert fast_tier_status(rules, [(at - timedelta(days=10), 150_000)], at).name == "silver"
    # Spend in the window of the last review (1 January) keeps its tier until the next review...
    assert fast_tier_status(rules, [(datetime(2025, 5, 31, tzinfo=timezone.utc), 400_000)], at).name == "gold"
    # ...spend before that window counts no more.
    assert fast_tier_status(rules, [(datetime(2024, 12, 31, tzinfo=timezone.utc), 400_000)], at) is None
