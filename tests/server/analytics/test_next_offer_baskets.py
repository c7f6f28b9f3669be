"""The next best offer weighs the chance a customer's basket meets an offer's condition (a cheque's threshold, a
line of a category bonus's category), from their recent tickets smoothed toward everyone's: an offer they
cannot meet is not chosen when one they can meet pays (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import msgspec
import pytest

from programme.ticket import GENESIS_HASH, PointsEntry, Tender, Ticket, make_line, ticket_hash
from server.analytics import aggregate, next_offer, offer_definitions
from server.analytics.next_offer_baskets import PRIOR_TICKETS, RECENT_TICKETS, recent_baskets
from server.analytics.offer_definitions import OfferType
from server.storage.desk_db import open_db

from ...fixtures.headoffice import CARDS, store_tickets

DAY = date(2026, 2, 2)
# customer -> their twelve weekly tickets, oldest first, each a list of (category, cents) lines
BASKETS = {
    1: [[("fresh", 3000)]] * 12,  # never 50 EUR
    2: [[("fresh", 6000)]] * 12,  # always 50 EUR or more
    3: [[("dairy", 20000), ("fresh", 3000)]] * 2 + [[("fresh", 3000)]] * 10,  # bought dairy, no longer does
    4: [[("fresh", 3000), ("tobacco", 4000)]] * 12,  # 70 EUR, of which 30 EUR earn points
}
NAMES = "ABCD"
ANONYMOUS = [("grocery", 100)] * 20  # a weekly basket of twenty lines without a card, none on promotion


def line(n: int, category: str, cents: int):
    """The customers' lines are on promotion (they watch prices: the cheques suit them), not tobacco."""
    off = 0 if category == "tobacco" else 10
    return make_line(f"30176204220{n:02d}", 1, cents + off, category=category, discount_cents=off)


def tickets() -> list[Ticket]:
    made, prev, seq = [], GENESIS_HASH, 0
    for week in range(12):
        for n, baskets in [*BASKETS.items(), (0, [ANONYMOUS] * 12)]:
            seq += 1
            when = datetime.combine(DAY - timedelta(days=1 + 7 * (11 - week)), datetime.min.time(), timezone.utc)
            lines = [
                line(i, c, cents) if n else make_line(f"30176204220{i:02d}", 1, cents, category=c)
                for i, (c, cents) in enumerate(baskets[week])
            ]
            total = sum(li.total_cents for li in lines)
            ticket = Ticket(
                id=f"S001-T01-{seq:08d}",
                terminal="S001-T01",
                seq=seq,
                store="S001",
                cashier="c1",
                opened_at=when + timedelta(minutes=n),
                closed_at=when + timedelta(minutes=n),
                lines=lines,
                tenders=[Tender(kind="cash", cents=total)],
                total_cents=total,
                card=CARDS[NAMES[n - 1]] if n else None,
                points=[PointsEntry(kind="earn", rule="base: 1 point per euro", points=total // 100)],
                rules_version="base-1",
                prev_hash=prev,
            )
            made.append(ticket)
            prev = ticket_hash(ticket)
    return made


@pytest.fixture
def conn(office_target):
    store_tickets(office_target, tickets())
    db = open_db(office_target)
    db.row_factory = None
    at = "2025-01-01T00:00:00+00:00"
    with db:
        for n, name in enumerate(NAMES, start=1):
            db.execute(
                "INSERT INTO customers (id, name, consent_profiling, created_at, updated_at) VALUES (?, ?, 1, ?, ?)",
                (n, f"Customer {name}", at, at),
            )
            db.execute(
                "INSERT INTO cards (number, customer_id, status, issued_at, status_at) VALUES (?, ?, 'active', ?, ?)",
                (CARDS[name], n, at, at),
            )
    aggregate.refresh(db)
    yield db
    db.close()


# the 50 EUR cheque costs less: on cost and response alone it would be everyone's best
FROM_50 = OfferType(name="1 EUR from 50 EUR", kind="basket_cheque", cheque_cents=100, min_basket_cents=5000)
FROM_20 = OfferType(name="2 EUR from 20 EUR", kind="basket_cheque", cheque_cents=200, min_basket_cents=2000)
DAIRY = OfferType(name="300 points on dairy", kind="category_points", category="dairy", points=300)


def test_recent_baskets_count_the_spend_that_earns_points(conn):
    baskets = recent_baskets(conn, DAY - timedelta(days=1))
    assert len(baskets.recent["customer:3"]) == RECENT_TICKETS  # the latest ten, not the two with dairy
    assert baskets.recent["customer:3"][0] == {"fresh": 3000}
    assert baskets.recent["customer:4"][0] == {"fresh": 3000}  # tobacco earns no points: not in the basket
    # a quarter of everyone's recent tickets reach 50 EUR: customer 2's
    assert baskets.share(None, 5000) == 0.25
    found = baskets.chance("customer:1", None, 5000)
    assert (found.met, found.tickets) == (0, 10)
    assert found.chance == pytest.approx(PRIOR_TICKETS * 0.25 / (10 + PRIOR_TICKETS))
    assert baskets.chance("customer:2", None, 5000).chance == pytest.approx((10 + PRIOR_TICKETS * 0.25) / 13)
    # someone with no recent ticket: everyone's share
    assert baskets.chance("customer:99", None, 5000).chance == 0.25


def test_a_customer_whose_baskets_never_reach_the_threshold_gets_an_offer_they_can_meet(conn):
    from_50, from_20 = offer_definitions.define(conn, FROM_50), offer_definitions.define(conn, FROM_20)
    chosen = {c.customer: c for c in next_offer.choose(conn, DAY)}
    assert chosen["customer:1"].offer_type == from_20
    assert chosen["customer:4"].offer_type == from_20  # 70 EUR baskets, but 40 EUR of them tobacco
    assert chosen["customer:2"].offer_type == from_50  # always reaches it: the cheaper cheque pays
    reason = chosen["customer:1"].reason
    assert reason.startswith("best expected: 2 EUR from 20 EUR: ")
    assert (
        "; baskets of 20.00 EUR or more that earn points: 10 of 10 recent tickets, chance 1.00 (everyone 1.00); "
        in reason
    )
    assert chosen["customer:1"].cell.endswith(", meets it often")
    t50 = next(t for t in offer_definitions.offer_types(conn) if t["id"] == from_50)
    p = next_offer.eligible(conn, DAY)["customer:1"]
    baskets = recent_baskets(conn, DAY - timedelta(days=1))
    expected, cell, why = next_offer.expected(t50, p, {}, baskets)
    assert cell == "price watcher, meets it rarely"
    assert (
        "; baskets of 50.00 EUR or more that earn points: 0 of 10 recent tickets, chance 0.06 (everyone 0.25); " in why
    )
    # the chance multiplies the prior: the cost and the response both
    whole = next_offer.expected(t50, p, {})[0]
    assert expected == round(whole * baskets.chance("customer:1", None, 5000).chance)


def test_a_customer_who_no_longer_buys_dairy_is_not_chosen_for_a_dairy_bonus_on_affinity_alone(conn):
    dairy = offer_definitions.define(conn, DAIRY)
    p = next_offer.eligible(conn, DAY)["customer:3"]
    assert p.affinity["dairy"] > 2  # the year's affinity is high...
    (t,) = offer_definitions.offer_types(conn)
    assert next_offer.expected(t, p, {})[0] > 0  # ...and alone would choose the bonus
    chosen = {c.customer: c for c in next_offer.choose(conn, DAY)}
    assert "customer:3" not in chosen  # none of their recent tickets holds dairy (nor anyone's)
    assert all(c.offer_type != dairy for c in chosen.values())  # nor anyone who never buys dairy
    baskets = recent_baskets(conn, DAY - timedelta(days=1))
    _, cell, why = next_offer.expected(t, p, {}, baskets)
    assert cell == "affinity high, meets it rarely"
    assert "; tickets with a dairy line that earns points: 0 of 10 recent tickets, chance 0.00 (everyone 0.00); " in why


def test_what_customers_who_rarely_meet_it_did_is_not_lent_by_those_who_often_do(conn):
    """The cell of similar customers holds those with a like chance: a measured uplift of customers who
    meet the condition often does not make one who rarely does look profitable."""
    from_50 = offer_definitions.define(conn, FROM_50)
    (t,) = offer_definitions.offer_types(conn)
    p = next_offer.eligible(conn, DAY)["customer:1"]
    baskets = recent_baskets(conn, DAY - timedelta(days=1))
    alone = next_offer.expected(t, p, {}, baskets)[0]
    learnt = {(from_50, "price watcher, meets it often"): (1000, 500.0)}
    assert next_offer.expected(t, p, learnt, baskets)[0] == alone


def test_the_condition_s_chance_is_in_the_stored_reason(conn):
    offer_definitions.define(conn, FROM_20)
    done = next_offer.run(conn, DAY, now="2026-02-02T06:00:00+00:00")
    assert done["customers"] == 4
    (stored,) = next_offer.choices_of(conn, "customer:2")
    assert "baskets of 20.00 EUR or more that earn points: 10 of 10 recent tickets" in stored["reason"]
    assert msgspec.json.encode(stored)  # plain values
