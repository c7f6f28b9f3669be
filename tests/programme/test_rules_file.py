"""Rules files: the shipped default is valid and every mistake gets its exact message."""

import pytest

from programme.errors import RulesError
from programme.points import RULES_VERSION, default_rules
from programme.rules import parse_rules, version_in_force

HEAD = 'version = "v1"\neffective_from = 2026-01-01T00:00:00Z\n'
CASES = [
    (
        "[base\ncents_per_point = 100\n",
        "rules.toml, line 3: not valid TOML: Expected ']' at the end of a table declaration (at line 3, column 6)",
    ),
    (
        '[[promotions]]\nid = "a"\npercent = 200\n\n[[promotions]]\nid = "b"\npercent = "double"\n',
        "rules.toml, line 9: promotions[1].percent: expected int, got str",
    ),
    (
        "[base]\ncents_per_pont = 100\n",
        "rules.toml, line 4: base.cents_per_pont: unknown field: check its spelling against docs/rules.md",
    ),
    (
        '[[tiers]]\nname = "gold"\npercent = 120\n',
        "rules.toml, line 3: tiers[0]: missing required field `min_spend_cents`",
    ),
    (
        '[[multipliers]]\ncategory = "dairy"\npercent = 50\n',
        "rules.toml, line 5: multipliers[0].percent: expected int >= 100",
    ),
    (
        '[[multipliers]]\ncategory = "dairy"\narticle = "3017620422003"\npercent = 200\n',
        "rules.toml, line 3: multipliers[0]: give exactly one of `category` or `article`",
    ),
    (
        '[[promotions]]\nid = "a"\n',
        "rules.toml, line 3: promotions[0]: give exactly one effect: `percent`, `points_per_unit` or `basket_points`",
    ),
    (
        '[[promotions]]\nid = "a"\nbasket_points = 50\n',
        "rules.toml, line 3: promotions[0]: `basket_points` and `basket_min_cents` go together",
    ),
    (
        '[[promotions]]\nid = "a"\nstart = 2026-12-01\nend = 2026-11-01\npercent = 200\n',
        "rules.toml, line 6: promotions[0].end: expected a date on or after start 2026-12-01, got 2026-11-01",
    ),
    (
        '[[promotions]]\nid = "a"\nweekdays = ["sunday"]\npercent = 200\n',
        "rules.toml, line 5: promotions[0].weekdays[0]: "
        "expected one of mon, tue, wed, thu, fri, sat, sun, got 'sunday'",
    ),
    (
        '[[promotions]]\nid = "a"\npercent = 200\n[[promotions]]\nid = "a"\npercent = 300\n',
        "rules.toml, line 7: promotions[1].id: id 'a' is used twice: ids are unique",
    ),
    (
        '[[promotions]]\nid = "a"\ncards = ["2900000000018"]\npercent = 200\n',
        "rules.toml, line 3: promotions[0]: a promotion is for everyone: put offers for some cards under [[offers]]",
    ),
    ('[[offers]]\nid = "a"\npercent = 200\n', "rules.toml, line 3: offers[0]: an offer needs `cards` or `segment`"),
    (
        '[[offers]]\nid = "a"\ncards = ["2900000000019"]\npercent = 200\n',
        "rules.toml, line 5: offers[0].cards: expected loyalty card numbers: card number 2900000000019 has a wrong "
        "check digit: expected 8, got 9; check the number typed or scan the card again",
    ),
    (
        '[[tiers]]\nname = "gold"\nmin_spend_cents = 5\npercent = 120\n'
        '[[tiers]]\nname = "silver"\nmin_spend_cents = 1\npercent = 110\n',
        "rules.toml, line 9: tiers[1].min_spend_cents: expected more than the previous tier's 5: "
        "list tiers from lowest to highest",
    ),
    (
        'timezone = "Europe/Nowhere"\n',
        "rules.toml, line 3: timezone: expected a time zone name like Europe/Paris, got 'Europe/Nowhere'",
    ),
    ("[expiry]\nmonth = 2\nday = 30\n", "rules.toml, line 5: expiry.day: day 30 does not exist in month 2"),
    (
        "[cheques]\nthreshold_points = 0\ncheque_cents = 500\n",
        "rules.toml, line 4: cheques.threshold_points: expected int >= 1",
    ),
]


@pytest.mark.parametrize("body,message", CASES, ids=[m.split(": ", 1)[1][:40] for _, m in CASES])
def test_each_mistake_has_its_message(body, message):
    with pytest.raises(RulesError) as err:
        parse_rules(HEAD + body, "rules.toml")
    assert str(err.value) == message


def test_top_level_mistakes():
    with pytest.raises(RulesError) as err:
        parse_rules("effective_from = 2026-01-01T00:00:00Z\n", "rules.toml")
    assert str(err.value) == "rules.toml: missing required field `version`"
    with pytest.raises(RulesError) as err:
        parse_rules('version = "v1"\neffective_from = 2026-01-01T00:00:00\n', "rules.toml")
    assert str(err.value) == (
        "rules.toml, line 2: effective_from: expected a UTC time with its offset, like 2026-11-01T00:00:00Z"
    )


def test_the_shipped_default_is_valid_and_named_as_the_till_says():
    rules = default_rules()
    assert rules.version == RULES_VERSION
    assert set(rules.exclusions.categories) == {"tobacco", "fuel", "gift_card", "deposit", "infant_formula"}
    assert rules.exclusions.redemption_categories == ["tobacco"]
    assert [(cap.categories, cap.max_percent) for cap in rules.caps] == [(["books"], 5)]


def test_version_in_force_is_the_latest_not_after_the_time():
    first = parse_rules('version = "a"\neffective_from = 2026-01-01T00:00:00Z\n')
    second = parse_rules('version = "b"\neffective_from = 2026-06-01T00:00:00Z\n')
    from datetime import datetime, timezone

    assert version_in_force([second, first], datetime(2026, 5, 31, 23, 59, tzinfo=timezone.utc)) is first
    assert version_in_force([first, second], datetime(2026, 6, 1, tzinfo=timezone.utc)) is second
    assert version_in_force([second], datetime(2025, 1, 1, tzinfo=timezone.utc)) is None
