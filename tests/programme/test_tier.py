"""programme.ledger.tier_status (prefix sums) gives exactly the tier of the rule as written, on any history."""

from datetime import datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from programme.ledger import last_review, rolling_spend, tier_status
from programme.points import default_rules
from programme.rules import Tier

START = datetime(2024, 1, 1, tzinfo=timezone.utc)
moments = st.integers(0, 3 * 365 * 24).map(lambda h: START + timedelta(hours=h))
spends = st.lists(st.tuples(moments, st.integers(-50_000, 300_000)), max_size=60)
# Valid rules (programme.rules.check_rules): unique names, thresholds strictly rising.
tier_lists = st.lists(st.integers(0, 900_000), max_size=4, unique=True).map(
    lambda mins: [Tier(name=f"t{n}", min_spend_cents=m, percent=100 + 10 * n) for n, m in enumerate(sorted(mins))]
)


def tier_as_written(rules, spends, as_of):
    """The rule in words, O(n^2): the review's tier, raised by any spend since that reached a higher one."""

    def tier_for(spend):
        found = None
        for tier in rules.tiers:
            if spend >= tier.min_spend_cents:
                found = tier
        return found

    def rank(tier):
        return -1 if tier is None else rules.tiers.index(tier)

    review = last_review(rules, as_of)
    best = tier_for(rolling_spend(spends, review))
    for when, _ in spends:
        if review < when <= as_of and rank(tier_for(rolling_spend(spends, when))) > rank(best):
            best = tier_for(rolling_spend(spends, when))
    return best


@settings(max_examples=300, deadline=None)
@given(spends=spends, as_of=moments, tiers=tier_lists)
def test_tier_status_equals_the_rule_as_written(spends, as_of, tiers):
    import msgspec

    rules = msgspec.structs.replace(default_rules(), tiers=tiers)
    assert tier_status(rules, spends, as_of) == tier_as_written(rules, spends, as_of)


def test_default_rules_tiers_at_the_thresholds():
    rules = default_rules()
    at = datetime(2026, 6, 1, tzinfo=timezone.utc)
    assert tier_status(rules, [(at - timedelta(days=10), 149_999)], at) is None
    assert tier_status(rules, [(at - timedelta(days=10), 150_000)], at).name == "silver"
    # Spend in the window of the last review (1 January) keeps its tier until the next review...
    assert tier_status(rules, [(datetime(2025, 5, 31, tzinfo=timezone.utc), 400_000)], at).name == "gold"
    # ...spend before that window counts no more.
    assert tier_status(rules, [(datetime(2024, 12, 31, tzinfo=timezone.utc), 400_000)], at) is None
