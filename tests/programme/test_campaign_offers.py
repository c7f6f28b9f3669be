"""Campaign offers as the till and the server read them: names, dates and stores, and the rules file's ids."""

from datetime import date

import pytest

from programme.campaign_offers import CampaignOffer, campaign_of, in_force
from programme.errors import RulesError
from programme.rules import parse_rules


def test_only_digits_after_offer_name_a_campaign():
    assert [campaign_of(r) for r in ("offer:12", "offer:coffee-lover", "offer:1 triple", "base", "offer:")] == [
        12,
        None,
        None,
        None,
        None,
    ]


def test_in_force_on_its_days_in_its_stores():
    offer = CampaignOffer(
        campaign=1,
        name="n",
        kind="cheque",
        cheque_cents=500,
        starts=date(2026, 1, 1),
        ends=date(2026, 1, 31),
        stores=["S001"],
    )
    assert in_force(offer, date(2026, 1, 1), "S001") and in_force(offer, date(2026, 1, 31), "S001")
    assert not in_force(offer, date(2026, 2, 1), "S001") and not in_force(offer, date(2026, 1, 5), "S002")
    assert in_force(
        CampaignOffer(campaign=1, name="n", kind="cheque", starts=date(2026, 1, 1), ends=date(2026, 1, 1)),
        date(2026, 1, 1),
        "S999",
    )


def test_a_rules_file_offer_may_not_take_a_campaign_name():
    text = (
        'version = "t1"\neffective_from = 2026-01-01T00:00:00Z\n'
        '[[offers]]\nid = "42"\ncards = ["2900000000018"]\nbasket_points = 5\nbasket_min_cents = 0\n'
    )
    with pytest.raises(RulesError) as refused:
        parse_rules(text, "rules.toml")
    assert str(refused.value) == (
        "rules.toml, line 4: offers[0].id: id '42' is only digits, which name head "
        "office's campaigns: give the offer a name with a letter"
    )
