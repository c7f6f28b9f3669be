"""Campaign offers as the till and the server read them: names, dates and stores, and the rules file's ids."""

from datetime import date

import pytest

from programme.campaign_offers import CampaignOffer, campaign_of, describe, in_force
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


# -- conditions: a category, a basket threshold (schema 2) --------------------------------------------------

from programme.campaign_offers import (  # noqa: E402
    SCHEMA_VERSION,
    applicable,
    decode_offers,
    qualifying_cents,
    schema_of,
    unmet,
)
from programme.points import default_rules  # noqa: E402
from programme.ticket import make_line  # noqa: E402

DAIRY = make_line("3017620422003", 2, 450, category="dairy")
GROCERY = make_line("3017620422010", 1, 2000, category="grocery")
TOBACCO = make_line("3017620422027", 1, 1100, category="tobacco")
FORMULA = make_line("3017620422034", 1, 2500, category="infant_formula")
BOOK = make_line("9782070360024", 1, 3000, category="books")


def conditional(**changes) -> CampaignOffer:
    fields = dict(
        campaign=7,
        name="Dairy",
        kind="bonus_points",
        points=150,
        starts=date(2026, 1, 1),
        ends=date(2026, 1, 31),
    )
    return CampaignOffer(**{**fields, **changes})


def test_a_category_bonus_needs_a_line_of_its_category_that_earns_points():
    offer = conditional(category="dairy")
    rules = default_rules()
    assert unmet(offer, rules, [DAIRY, GROCERY]) is None
    assert unmet(offer, rules, [GROCERY]) == (
        "campaign 7 is on dairy: the ticket has no line of dairy that earns points"
    )
    assert applicable([offer], rules, [GROCERY]) == [] and applicable([offer], rules, [DAIRY]) == [offer]


@pytest.mark.parametrize("excluded", [TOBACCO, FORMULA, BOOK], ids=["tobacco", "infant formula", "books cap"])
def test_an_excluded_or_capped_line_never_qualifies(excluded):
    """French exclusions: tobacco and infant formula earn nothing; books' advantages are capped (loi Lang)."""
    rules = default_rules()
    on_it = conditional(category=excluded.category)
    assert qualifying_cents(on_it, rules, [excluded]) == 0
    assert unmet(on_it, rules, [excluded]) == (
        f"campaign 7 is on {excluded.category}: the ticket has no line of {excluded.category} that earns points"
    )
    cheque = conditional(kind="cheque", points=0, cheque_cents=500, min_basket_cents=2000)
    assert qualifying_cents(cheque, rules, [GROCERY, excluded]) == 2000
    assert unmet(cheque, rules, [DAIRY, excluded]) == (
        "campaign 7 needs a basket of 20.00 EUR that earns points: the ticket's is 9.00 EUR"
    )


def test_a_basket_threshold_counts_the_spend_that_earns_points():
    rules = default_rules()
    cheque = conditional(kind="cheque", points=0, cheque_cents=500, min_basket_cents=2900)
    assert unmet(cheque, rules, [DAIRY, GROCERY]) is None  # 9.00 + 20.00
    assert unmet(cheque, rules, [GROCERY, TOBACCO]) == (
        "campaign 7 needs a basket of 29.00 EUR that earns points: the ticket's is 20.00 EUR"
    )
    both = conditional(category="dairy", min_basket_cents=1000)
    assert unmet(both, rules, [DAIRY, GROCERY]) == (
        "campaign 7 needs 10.00 EUR of dairy that earns points: the ticket has 9.00 EUR"
    )
    assert unmet(both, rules, [DAIRY, DAIRY]) is None
    plain = conditional()
    assert unmet(plain, rules, [TOBACCO]) == "campaign 7 needs spend that earns points: the ticket has none"
    assert unmet(plain, rules, [GROCERY]) is None


def test_a_message_without_conditions_is_schema_1_and_decodes_as_before():
    old = (
        b'{"schema": 1, "offers": [{"campaign": 3, "name": "n", "kind": "cheque", "cheque_cents": 500, '
        b'"starts": "2026-01-01", "ends": "2026-01-31", "cards": ["2900000000018"]}]}'
    )
    offer = decode_offers(old).offers[0]
    assert (offer.category, offer.min_basket_cents, offer.conditional) == (None, 0, False)
    assert schema_of([offer]) == 1 and schema_of([conditional(min_basket_cents=1)]) == 2 == SCHEMA_VERSION
    new = old.replace(b'"schema": 1', b'"schema": 2').replace(
        b'"cards"', b'"category": "dairy", "min_basket_cents": 1500, "cards"'
    )
    offer = decode_offers(new).offers[0]
    assert (offer.category, offer.min_basket_cents, offer.conditional) == ("dairy", 1500, True)


@pytest.mark.parametrize(
    "change, message",
    [
        (b'"min_basket_cents": 100001', "Expected `int` <= 100000 - at `$.offers[0].min_basket_cents`"),
        (b'"min_basket_cents": -1', "Expected `int` >= 0 - at `$.offers[0].min_basket_cents`"),
        (b'"category": ""', "Expected `str` of length >= 1 - at `$.offers[0].category`"),
    ],
)
def test_a_condition_out_of_bounds_is_refused(change, message):
    payload = (
        b'{"schema": 2, "offers": [{"campaign": 3, "name": "n", "kind": "cheque", "cheque_cents": 500, '
        b'"starts": "2026-01-01", "ends": "2026-01-31", ' + change + b"}]}"
    )
    with pytest.raises(ValueError) as refused:
        decode_offers(payload)
    assert str(refused.value) == message


def test_schema_3_is_refused_saying_which_are_understood():
    with pytest.raises(ValueError) as refused:
        decode_offers(b'{"schema": 3, "offers": []}')
    assert str(refused.value) == "schema 3 (1 or 2 expected)"


def test_the_cashier_reads_the_condition(english):
    assert describe(conditional(category="dairy")) == "offer Dairy: +150 points if the ticket has dairy"
    assert describe(conditional(kind="cheque", points=0, cheque_cents=500, min_basket_cents=3000)) == (
        "offer Dairy: loyalty cheque €5.00 from a basket of €30.00"
    )
    assert describe(conditional(category="dairy", min_basket_cents=1000)) == (
        "offer Dairy: +150 points from €10.00 of dairy"
    )


def test_the_cashier_reads_the_condition_in_french():
    from programme.i18n import use_language

    with use_language("fr"):
        assert describe(conditional(category="dairy")) == (
            "offre Dairy : +150 points si le ticket compte un article du rayon dairy"
        )
        assert describe(conditional(kind="cheque", points=0, cheque_cents=500, min_basket_cents=3000)) == (
            "offre Dairy : chèque fidélité de 5,00\u00a0€ dès 30,00\u00a0€ d'achats"
        )
