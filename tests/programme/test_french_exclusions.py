"""The shipped rules' French exclusions: tobacco is not paid with points, infant formula for 0-6 months earns
nothing and takes no offer, books' loyalty advantages stay within 5 % of their price (loi Lang)."""

from datetime import datetime, timezone

import pytest

from programme.campaign_offers import CampaignOffer, as_promotion
from programme.errors import RedemptionError
from programme.explain import explain_ticket
from programme.points import default_rules, earn_points
from programme.redemption import payable_with_points, plan_tender
from programme.rules import parse_rules
from programme.ticket import make_line

CARD = "2900000000018"
AT = datetime(2026, 12, 5, 12, 0, tzinfo=timezone.utc)
TOBACCO = make_line("3000000000045", 1, 1250, "tobacco", "Cigarettes", vat_rate=2000)
FORMULA = make_line("3000000000052", 2, 1790, "infant_formula", "Lait 1er âge 0-6 mois", vat_rate=550)
BOOK = make_line("9782070360024", 1, 2000, "books", "Roman", vat_rate=550)
PASTA = make_line("3000000000069", 1, 500, "grocery", "Pâtes", vat_rate=550)


def with_rules(extra: str):
    """The shipped rules with more sections (promotions, offers, tiers) appended."""
    from importlib.resources import files

    text = files("programme").joinpath("default_rules.toml").read_text().replace('"2026.1"', '"test"') + extra
    return parse_rules(text, "rules.toml")


EVERYTHING_X10 = """
[[promotions]]
id = "all-x10"
percent = 1000

[[promotions]]
id = "basket"
basket_min_cents = 1000
basket_points = 50

[[offers]]
id = "card-x5"
percent = 500
cards = ["2900000000018"]
"""


def test_points_cannot_pay_for_tobacco(english):
    rules = default_rules()
    with pytest.raises(RedemptionError) as refused:
        plan_tender(rules, 2000, balance=5000, due_cents=1250, payable_cents=payable_with_points(rules, [TOBACCO]))
    assert str(refused.value) == "points cannot pay for tobacco: pay what is due with another tender"
    plan = plan_tender(
        rules, 2000, balance=5000, due_cents=1750, payable_cents=payable_with_points(rules, [TOBACCO, PASTA])
    )
    assert (plan.points, plan.cents, plan.note) == (
        500,
        500,
        "points pay at most €5.00: tobacco is paid with another tender",
    )
    # What points already paid counts: the pasta is paid, the tobacco is left to another tender.
    with pytest.raises(RedemptionError):
        plan_tender(
            rules,
            10,
            balance=5000,
            due_cents=1250,
            payable_cents=payable_with_points(rules, [TOBACCO, PASTA], points_tendered_cents=500),
        )


def test_infant_formula_earns_nothing_and_takes_no_promotion_nor_offer():
    rules = with_rules(EVERYTHING_X10)
    campaign = CampaignOffer(
        campaign=7, name="Welcome back", kind="bonus_points", points=300, starts=AT.date(), ends=AT.date()
    )
    entries = earn_points([FORMULA], CARD, rules, AT, offers=(as_promotion(campaign, CARD),))
    assert entries == []
    explanation = explain_ticket(rules, _ticket([FORMULA]))
    assert explanation.lines[0].note == "excluded (infant_formula)"
    # Beside other articles it still earns nothing, and its spend counts for no basket bonus.
    entries = earn_points([FORMULA, PASTA], CARD, rules, AT)
    assert {e.line for e in entries} == {1} and not any(e.rule == "promotion:basket" for e in entries)


def test_a_cheque_offer_needs_spend_that_earns(tmp_path):
    import msgspec

    from terminal.journal import Journal
    from terminal.offers import apply_offers
    from terminal.sale import sell

    from ..fixtures.signing import signed, trust

    offer = {
        "campaign": 9,
        "name": "Spring cheque",
        "kind": "cheque",
        "points": 0,
        "cheque_cents": 500,
        "starts": "2026-01-01",
        "ends": "2099-12-31",
        "stores": [],
        "cards": [CARD],
    }
    with Journal(tmp_path / "till.db", "S001-T01") as journal:
        apply_offers(journal.conn, signed("offers", msgspec.json.encode({"schema": 1, "offers": [offer]})), trust())
        assert sell(journal, [FORMULA], CARD).points == []
        assert [e.rule for e in sell(journal, [PASTA], CARD).points] == ["base", "offer:9"]


def test_a_books_loyalty_advantages_stay_within_five_percent_of_its_price():
    rules = with_rules(
        EVERYTHING_X10
        + """
[[tiers]]
name = "platinum"
min_spend_cents = 900000
percent = 300
"""
    )
    entries = earn_points([BOOK], CARD, rules, AT, tier="platinum")
    # 20.00 EUR: base 20, x10 promotion 180, tier 40, offer 80 = 320 points (3.20 EUR, 16 %): capped at 5 %,
    # 1.00 EUR = 100 points; the base is kept first and the latest rules give back first.
    assert [(e.rule, e.points) for e in entries if e.line == 0] == [
        ("base", 20),
        ("tier:platinum", 40),
        ("promotion:all-x10", 40),
    ]
    assert sum(e.points for e in entries) == 100
    # The book's spend does not reach a basket bonus either; another article's does, uncapped.
    entries = earn_points([BOOK, PASTA], CARD, rules, AT)
    assert ("promotion:basket", 50) not in [(e.rule, e.points) for e in entries]
    assert sum(e.points for e in entries if e.line == 0) == 100
    # Under the cap nothing changes: the shipped rules give a book 1 point per euro (1 %).
    assert [(e.rule, e.points) for e in earn_points([BOOK], CARD, default_rules(), AT)] == [("base", 20)]


def test_a_cap_is_checked_when_the_rules_are_read():
    from programme.errors import RulesError

    with pytest.raises(RulesError) as refused:
        with_rules('\n[[caps]]\ncategories = ["books"]\nmax_percent = 3\n')
    assert "category 'books' is capped twice: keep one cap" in str(refused.value)
    with pytest.raises(RulesError) as refused:
        with_rules('\n[[caps]]\ncategories = ["press"]\nmax_percent = 101\n')
    assert "expected int <= 100" in str(refused.value)


def _ticket(lines):
    from programme.ticket import PointsEntry, Tender, Ticket

    total = sum(line.total_cents for line in lines)
    return Ticket(
        id="S001-T01-00000001",
        terminal="S001-T01",
        seq=1,
        store="S001",
        cashier="c",
        opened_at=AT,
        closed_at=AT,
        lines=lines,
        tenders=[Tender("cash", total)],
        total_cents=total,
        card=CARD,
        points=[PointsEntry("earn", "base", 0)],
        rules_version="test",
    )


def test_the_till_refuses_points_for_tobacco(english, tmp_path):
    from terminal import cardstate
    from terminal.errors import RedeemError
    from terminal.till import TillSession

    session = TillSession(str(tmp_path / "till.db"), "S001-T01")
    cardstate.remember_balance(session.journal.conn, CARD, 5000, "2026-01-01T00:00:00+00:00")
    session.identify(CARD)
    session.basket.lines.append(TOBACCO)
    with pytest.raises((RedeemError, RedemptionError)) as refused:
        session.redeem(1000)
    assert str(refused.value) == "points cannot pay for tobacco: pay what is due with another tender"
    session.basket.lines.append(PASTA)
    plan = session.redeem(1000)
    assert (plan.points, session.basket.due_cents) == (500, 1250)
    session.close_session()
