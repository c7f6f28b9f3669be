"""Returns never reverse more than was earned; redemption and cheques refuse with clear messages."""

from datetime import datetime, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from programme.engine import Context, points_of
from programme.errors import RedemptionError, ReturnError
from programme.ledger import Ledger, post_ticket
from programme.points import default_rules
from programme.redemption import issue_cheques, plan_tender
from programme.returns import NO_ORIGINAL, post_return, reverse_lines, reverse_without_original
from programme.ticket import Tender, Ticket, make_line

from .test_engine import ARTICLES
from .test_rules_docs import doc_rules

pytestmark = pytest.mark.usefixtures("english")  # written when the till spoke only English

RULES = doc_rules()
CARD = "2900000000018"
AT = datetime(2026, 11, 28, 12, tzinfo=timezone.utc)


def sale(lines) -> Ticket:
    points = points_of(RULES, lines, Context(CARD, AT, "S001", "silver", frozenset({"families"})))
    total = sum(li.total_cents for li in lines)
    return Ticket(
        id="S001-T01-00000001",
        terminal="S001-T01",
        seq=1,
        store="S001",
        cashier="ann",
        opened_at=AT,
        closed_at=AT,
        lines=lines,
        tenders=[Tender("cash", total)],
        total_cents=total,
        card=CARD,
        points=points,
        rules_version=RULES.version,
    )


line = st.builds(
    lambda a, q, u: make_line(a[0], q, u, a[1]), st.sampled_from(ARTICLES), st.integers(1, 5), st.integers(1, 9000)
)


@settings(max_examples=100, deadline=None)
@given(st.lists(line, min_size=1, max_size=12), st.randoms(use_true_random=False))
def test_returns_in_any_steps_never_reverse_more_than_earned_and_all_back_reverses_all(lines, rng):
    ticket = sale(lines)
    earned = {}
    for e in ticket.points:
        earned[e.line] = earned.get(e.line, 0) + e.points
    done: dict[int, int] = {}
    reversed_: dict[int | None, int] = {}
    while any(done.get(i, 0) < li.quantity for i, li in enumerate(lines)):
        open_lines = [i for i, li in enumerate(lines) if done.get(i, 0) < li.quantity]
        picks = {
            i: rng.randint(1, lines[i].quantity - done.get(i, 0))
            for i in rng.sample(open_lines, rng.randint(1, len(open_lines)))
        }
        reversal = reverse_lines(RULES, ticket, picks, done)
        for key, points in reversal.by_line.items():
            assert points >= 0
            reversed_[key] = reversed_.get(key, 0) + points
            assert reversed_[key] <= earned.get(key, 0)
        for i, q in picks.items():
            done[i] = done.get(i, 0) + q
    assert sum(reversed_.values()) == ticket.points_earned


def test_partial_quantities_are_prorated_cumulatively_rounded_down():
    ticket = sale([make_line("3270190000012", 3, 333, "drinks")])  # 9.99 base + 0.999 silver: 10 points
    assert ticket.points_earned == 10
    first = reverse_lines(RULES, ticket, {0: 1})
    second = reverse_lines(RULES, ticket, {0: 1}, {0: 1})
    last = reverse_lines(RULES, ticket, {0: 1}, {0: 2})
    assert [first.points, second.points, last.points] == [3, 3, 4]  # floor(10/3), floor(20/3)-3, 10-6
    with pytest.raises(ReturnError) as err:
        reverse_lines(RULES, ticket, {0: 2}, {0: 2})
    assert str(err.value) == "line 1 of S001-T01-00000001: 1 left to return, 2 asked"
    with pytest.raises(ReturnError) as err:
        reverse_lines(RULES, ticket, {3: 1})
    assert str(err.value) == "ticket S001-T01-00000001 has no line 4: it has 1 line"


def test_a_return_reaches_the_ledger_once_and_without_the_original_at_the_base_rate():
    ticket = sale([make_line("3270190000012", 3, 333, "drinks"), make_line("3000000000017", 1, 1150, "tobacco")])
    ledger = Ledger()
    post_ticket(ledger, ticket, 3000)
    reversal = reverse_lines(RULES, ticket, {0: 1})
    post_return(ledger, CARD, "S001-T01-00000002", ticket.id, reversal, AT)
    post_return(ledger, CARD, "S001-T01-00000002", ticket.id, reversal, AT)  # replayed: nothing changes
    assert ledger.balance(CARD) == 10 - 3
    blind = reverse_without_original(
        RULES, [make_line("3270190000012", -1, 1000, "drinks"), make_line("3000000000017", -1, 1150, "tobacco")]
    )
    assert (blind.points, blind.flag) == (10, NO_ORIGINAL)
    (entry,) = post_return(ledger, CARD, "S001-T01-00000003", None, blind, AT)
    assert (entry.points, entry.flags, entry.rule) == (-7, (NO_ORIGINAL, "short:3"), "return of an unknown ticket")


def test_points_as_a_tender_and_its_refusals():
    rules = RULES  # 1 cent a point, at least 100 points, offline cap 2000 a day
    plan = plan_tender(rules, 500, balance=1000, due_cents=500)
    assert (plan.points, plan.cents, plan.note) == (500, 500, "")
    cases = [
        (
            dict(asked=500, balance=120, due_cents=500),
            "not enough points: the card has 120 and 500 were asked; redeem at most 120",
        ),
        (dict(asked=50, balance=5000, due_cents=500), "at least 100 points are redeemed at a time, 50 would be"),
        (
            dict(asked=500, balance=5000, due_cents=500, offline=True, redeemed_today=1950),
            "at least 100 points are redeemed at a time, 50 would be",
        ),
        (
            dict(asked=500, balance=5000, due_cents=500, offline=True, redeemed_today=2000),
            "offline cap reached: a card may redeem at most 2000 points a day while the till is offline, and 2000 "
            "were already redeemed today; try again once online",
        ),
    ]
    for kwargs, message in cases:
        with pytest.raises(RedemptionError) as err:
            plan_tender(rules, **kwargs)
        assert str(err.value) == message
    capped = plan_tender(rules, 500, balance=5000, due_cents=500, offline=True, redeemed_today=1900)
    assert (capped.points, capped.note) == (
        100,
        "offline cap: at most 2000 points a day per card while the till is "
        "offline (1900 already today), so 100 points are redeemed",
    )


def test_cheques_carry_the_remainder():
    issue = issue_cheques(RULES, 1230)
    assert (issue.count, issue.points, issue.cents, issue.remainder) == (2, 1000, 500, 230)
    with pytest.raises(RedemptionError) as err:
        issue_cheques(RULES, 230)
    assert str(err.value) == "the card has 230 points; a loyalty cheque needs 500"
    assert issue_cheques(default_rules(), 500).remainder == 0
