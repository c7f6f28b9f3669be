import pytest

import msgspec

from programme.errors import RedemptionError
from programme.points import default_rules
from programme.redemption import check_offline_cap, plan_tender
from terminal.basket import Basket, parse_scan
from terminal.errors import BasketError
from terminal.till import default_catalogue

pytestmark = pytest.mark.usefixtures("english")  # written when the till spoke only English

CATALOGUE = default_catalogue()
RAZORS, OIL = "3000000000007", "3000000000014"  # 1.91 and 5.42 in the seed-0 catalogue


def test_scan_forms():
    assert parse_scan("3017620422003").quantity == 1
    assert parse_scan("3*3017620422003").quantity == 3
    assert parse_scan("3017620422003@1.99").unit_cents == 199
    with pytest.raises(BasketError) as err:
        parse_scan("abc")
    assert str(err.value) == "'abc' is not an article: scan the barcode, or type GTIN, 3*GTIN or GTIN@1.99"


def test_lines_void_totals_and_tenders():
    basket = Basket(CATALOGUE)
    basket.scan(RAZORS)
    basket.scan(f"2*{OIL}")
    basket.scan("3017620422003@2.50")
    assert basket.total_cents == 191 + 2 * 542 + 250 and basket.item_count == 4
    assert basket.void().gtin == "3017620422003"
    assert basket.void(0).gtin == RAZORS
    assert basket.total_cents == 1084
    assert basket.pay("bank_card", 84) == 0
    assert basket.pay("cash", 2000) == 1000
    assert basket.settled and [t.kind for t in basket.tenders] == ["bank_card", "cash"]
    with pytest.raises(BasketError) as err:
        basket.void()
    assert str(err.value) == "payment has started: cancel the ticket to void a line"
    basket.cancel()
    assert basket.lines == [] and basket.tenders == [] and basket.total_cents == 0


def test_unknown_article_and_tender_limits():
    basket = Basket(CATALOGUE)
    with pytest.raises(BasketError) as err:
        basket.scan("3017620422003")
    assert str(err.value) == "article 3017620422003 is not in the catalogue: type its price as 3017620422003@1.99"
    basket.scan(RAZORS)
    with pytest.raises(BasketError) as err:
        basket.pay("cheque", 500)
    assert str(err.value) == "cheque pays at most what is due (€1.91); only cash gives change"


def rules_with(**redemption):
    rules = default_rules()
    return msgspec.structs.replace(rules, redemption=msgspec.structs.replace(rules.redemption, **redemption))


def test_redemption_refused_when_balance_short():
    with pytest.raises(RedemptionError) as err:
        plan_tender(default_rules(), 300, balance=120, due_cents=1000)
    assert str(err.value) == "not enough points: the card has 120 and 300 were asked; redeem at most 120"


def test_redemption_limited_to_due_and_offline_cap():
    rules = rules_with(offline_daily_cap_points=200)
    plan = plan_tender(rules, 500, balance=1000, due_cents=10_000)
    assert (plan.points, plan.cents, plan.note) == (500, 500, "")
    plan = plan_tender(rules, 500, balance=1000, due_cents=300)
    assert (plan.points, plan.note) == (300, "only 300 points are needed to pay what is due")
    plan = plan_tender(rules, 500, balance=1000, due_cents=10_000, offline=True, redeemed_today=50)
    assert plan.points == 150
    assert plan.note == (
        "offline cap: at most 200 points a day per card while the till is offline "
        "(50 already today), so 150 points are redeemed"
    )
    with pytest.raises(RedemptionError) as err:
        plan_tender(rules, 10, balance=1000, due_cents=10_000, offline=True, redeemed_today=200)
    assert str(err.value) == (
        "offline cap reached: a card may redeem at most 200 points a day while the till "
        "is offline, and 200 were already redeemed today; try again once online"
    )


def test_the_rules_in_force_set_what_a_point_pays_and_the_minimum():
    rules = rules_with(cents_per_point=2, min_points=100)
    plan = plan_tender(rules, 400, balance=1000, due_cents=10_000)
    assert (plan.points, plan.cents) == (400, 800)
    plan = plan_tender(rules, 400, balance=1000, due_cents=501)  # 250 points pay 5.00; a cent is left to pay
    assert (plan.points, plan.cents, plan.note) == (250, 500, "only 250 points are needed to pay what is due")
    for asked, due, message in [
        (50, 10_000, "at least 100 points are redeemed at a time, 50 would be"),
        (400, 1, "€0.01 is less than one point (€0.02): pay it with another tender"),
        (0, 10_000, "redeem a positive number of points, not 0"),
        (400, 0, "nothing is left to pay on this ticket: add articles before redeeming points"),
    ]:
        with pytest.raises(RedemptionError) as err:
            plan_tender(rules, asked, balance=1000, due_cents=due)
        assert str(err.value) == message


def test_offline_cap_for_cheques():
    rules = rules_with(offline_daily_cap_points=800)
    check_offline_cap(rules, 1000, offline=False, redeemed_today=0)
    check_offline_cap(rules, 500, offline=True, redeemed_today=300)
    with pytest.raises(RedemptionError) as err:
        check_offline_cap(rules, 500, offline=True, redeemed_today=301)
    assert str(err.value) == (
        "offline cap: a card may redeem at most 800 points a day while the till is offline; "
        "301 already today, 500 needed; issue it once the till is back online"
    )


def test_the_offline_cap_counts_from_the_stores_midnight(tmp_path):
    """23:30 UTC on 15 January is 00:30 on the 16th in Paris (the rules' zone): a redemption at 22:50 UTC was
    yesterday's, one at 23:10 UTC is today's."""
    from datetime import datetime, timezone

    from programme.engine import day_start
    from terminal.cardstate import redeemed_today
    from terminal.journal import Journal

    card = "2900000000018"
    since = day_start(default_rules(), datetime(2026, 1, 15, 23, 30, tzinfo=timezone.utc))
    assert since == datetime(2026, 1, 15, 23, 0, tzinfo=timezone.utc)
    with Journal(tmp_path / "till.db", "S001-T01") as journal, journal.conn:
        journal.conn.executemany(
            "INSERT INTO ledger (card, kind, points, rule, cause, ticket_id, at) VALUES (?, 'redeem', ?, 'points "
            "tender', ?, NULL, ?)",
            [(card, -300, "a", "2026-01-15T22:50:00+00:00"), (card, -120, "b", "2026-01-15T23:10:00+00:00")],
        )
        assert redeemed_today(journal.conn, card, since) == 120
