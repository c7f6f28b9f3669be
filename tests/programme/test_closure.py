"""Closures: period and grand totals over several days (worked out by hand), the chain and signatures."""

from datetime import datetime, timezone

import msgspec
import pytest

from programme.cardnumber import make_card_number
from programme.closure import (
    ClosureError,
    Totals,
    check_closure,
    closure_hash,
    decode_closure,
    encode_closure,
    make_closure,
    period_bounds,
    select_period,
    sign_closure,
    verify_chain,
    verify_closure,
)
from programme.signing import SignatureError, new_private_key
from programme.ticket import GENESIS_HASH, PointsEntry, Tender, Ticket, make_line, ticket_hash, ticket_id

TILL = "S001-T01"
CARD = make_card_number("290000000001")


def at(day: int, hour: int = 10) -> datetime:
    return datetime(2026, 11, day, hour, tzinfo=timezone.utc)


def ticket(seq, when, lines, tenders, points=(), card=CARD, prev=GENESIS_HASH):
    lines = [make_line("3017620422003", q, u, discount_cents=d) for q, u, d in lines]
    return Ticket(
        id=ticket_id(TILL, seq),
        terminal=TILL,
        seq=seq,
        store="S001",
        cashier="ann",
        opened_at=when,
        closed_at=when,
        lines=lines,
        tenders=[Tender(kind=k, cents=c) for k, c in tenders],
        total_cents=sum(li.total_cents for li in lines),
        card=card,
        points=[PointsEntry(kind=k, rule="r", points=p) for k, p in points],
        rules_version="v1",
        prev_hash=prev,
    )


def four_days() -> list[Ticket]:
    """21st: a sale and a sale paid partly in points; 22nd: a return and a sale; 23rd: nothing; 24th: an exchange."""
    specs = [
        (at(21, 9), [(1, 500, 0)], [("cash", 500)], [("earn", 5)]),
        (at(21, 18), [(2, 250, 0), (1, 300, 50)], [("bank_card", 700), ("points", 50)], [("earn", 7), ("redeem", 50)]),
        (at(22, 11), [(-1, 500, 0)], [("cash", -500)], [("reverse", 5)]),
        (at(22, 22), [(1, 1000, 0)], [("cash", 1000)], []),  # 23:00 in Paris: still the 22nd
        (at(24, 8), [(1, 200, 0), (-1, 100, 0)], [("voucher", 100)], []),
    ]
    made, prev = [], GENESIS_HASH
    for seq, (when, lines, tenders, points) in enumerate(specs, start=1):
        made.append(ticket(seq, when, lines, tenders, points, prev=prev))
        prev = ticket_hash(made[-1])
    return made


def close_days(tickets, key=None, days=(21, 22, 23, 24)):
    closures, previous = [], None
    for day in days:
        after = [t for t in tickets if t.seq > (previous.last_seq if previous else 0)]
        closure = make_closure(
            TILL, f"2026-11-{day}", select_period(after, f"2026-11-{day}"), previous, at(day, 23).replace(minute=59)
        )
        closure = sign_closure(closure, key) if key else closure
        closures.append(closure)
        previous = closure
    return closures


def sans_vat(totals: Totals) -> Totals:
    return msgspec.structs.replace(totals, vat=msgspec.UNSET)


def test_day_totals_and_grand_totals_over_four_days():
    closed = close_days(four_days())
    d21, d22, d23, d24 = (
        msgspec.structs.replace(c, period_totals=sans_vat(c.period_totals), grand_totals=sans_vat(c.grand_totals))
        for c in closed
    )
    assert d21.period_totals == Totals(
        tickets=2,
        sales_cents=1250,
        returns_cents=0,
        tenders={"bank_card": 700, "cash": 500, "points": 50},
        points_earned=12,
        points_redeemed=50,
        points_reversed=0,
    )
    assert d21.grand_totals == d21.period_totals
    assert d22.period_totals == Totals(
        tickets=2, sales_cents=1000, returns_cents=500, tenders={"cash": 500}, points_reversed=5
    )
    assert d22.grand_totals == Totals(
        tickets=4,
        sales_cents=2250,
        returns_cents=500,
        tenders={"bank_card": 700, "cash": 1000, "points": 50},
        points_earned=12,
        points_redeemed=50,
        points_reversed=5,
    )
    assert (d23.first_seq, d23.last_seq, d23.period_totals) == (5, 4, Totals())
    assert d23.grand_totals == d22.grand_totals
    assert d24.period_totals == Totals(tickets=1, sales_cents=200, returns_cents=100, tenders={"voucher": 100})
    assert d24.grand_totals == Totals(
        tickets=5,
        sales_cents=2450,
        returns_cents=600,
        tenders={"bank_card": 700, "cash": 1000, "points": 50, "voucher": 100},
        points_earned=12,
        points_redeemed=50,
        points_reversed=5,
    )
    assert d24.grand_totals.net_cents == 1850
    assert [c.number for c in (d21, d22, d23, d24)] == [1, 2, 3, 4]
    assert closed[1].prev_hash == closure_hash(closed[0]) and d21.prev_hash == GENESIS_HASH


def test_a_month_closure_is_its_own_chain_with_the_same_grand_totals():
    tickets = four_days()
    month = make_closure(
        TILL, "2026-11", select_period(tickets, "2026-11"), None, datetime(2026, 12, 1, 6, tzinfo=timezone.utc)
    )
    assert (month.kind, month.first_seq, month.last_seq, month.number) == ("month", 1, 5, 1)
    assert month.period_totals == month.grand_totals == close_days(tickets)[-1].grand_totals


def test_periods_are_the_stores_local_days_and_months():
    assert period_bounds("2026-12") == (
        datetime(2026, 11, 30, 23, tzinfo=timezone.utc),
        datetime(2026, 12, 31, 23, tzinfo=timezone.utc),
    )
    assert period_bounds("2026-11-30")[1] == datetime(2026, 11, 30, 23, tzinfo=timezone.utc)
    with pytest.raises(ClosureError) as err:
        period_bounds("2026-13")
    assert str(err.value) == "period '2026-13' is not a real date: e.g. 2026-11-23, 2026-11 or 2026"
    with pytest.raises(ClosureError) as err:
        period_bounds("23/11/2026")
    assert str(err.value) == ("period '23/11/2026' is neither a day (2026-11-23), a month (2026-11) nor a year (2026)")


def test_a_clock_jump_never_loses_or_doubles_a_ticket():
    tickets = four_days()
    # Ticket 2 stamped on the 23rd (clock ahead), then set right: the 21st still closes tickets 1-3...
    ahead = [
        tickets[0],
        msgspec.structs.replace(tickets[1], closed_at=at(23)),
        msgspec.structs.replace(tickets[2], closed_at=at(21, 20)),
    ]
    assert [t.seq for t in select_period(ahead, "2026-11-21")] == [1, 2, 3]
    # ...and a ticket stamped on the 20th (clock behind) sold after the 21st was closed goes to the 22nd.
    d21 = make_closure(TILL, "2026-11-21", select_period(tickets[:2], "2026-11-21"), None, at(21, 23))
    behind = [msgspec.structs.replace(tickets[2], closed_at=at(20)), tickets[3]]
    d22 = make_closure(TILL, "2026-11-22", select_period(behind, "2026-11-22"), d21, at(22, 23))
    assert (d21.first_seq, d21.last_seq, d22.first_seq, d22.last_seq) == (1, 2, 3, 4)


def test_closing_a_period_twice_or_backwards_is_refused():
    d21, d22, *_ = close_days(four_days())
    with pytest.raises(ClosureError) as err:
        make_closure(TILL, "2026-11-22", [], d22, at(25))
    assert str(err.value) == (
        "S001-T01: day 2026-11-22 is closed already, so 2026-11-22 cannot be closed now "
        "(closures go forward, once per period)"
    )
    with pytest.raises(ClosureError) as err:
        make_closure(TILL, "2026-11-22", four_days()[:4], None, at(23))
    assert str(err.value) == (
        "day 2026-11-21 has tickets and is not closed (first: S001-T01-00000001): close it before 2026-11-22"
    )


def test_signed_closures_verify_and_a_tampered_one_is_detected():
    key = new_private_key()
    tickets = four_days()
    closures = close_days(tickets, key)
    assert verify_chain(closures, tickets, key.public_key()) == []
    assert decode_closure(encode_closure(closures[1])) == closures[1]
    raw = msgspec.json.decode(encode_closure(closures[1]))
    raw["period_totals"]["sales_cents"] -= 100
    raw["grand_totals"]["sales_cents"] -= 100
    altered = decode_closure(msgspec.json.encode(raw))
    with pytest.raises(SignatureError) as err:
        verify_closure(altered, key.public_key())
    assert str(err.value) == (
        "day closure 2 of S001-T01 (2026-11-22): the signature does not match its content "
        "(altered after the till signed it, or signed by another key)"
    )
    problems = verify_chain([closures[0], altered, *closures[2:]], tickets, key.public_key())
    assert problems == [
        str(err.value),
        "day closure 2 of S001-T01 (2026-11-22): period totals sales_cents 900 in the closure, 1000 from the tickets",
        "day closure 3 of S001-T01: the chain is broken (it names "
        f"{closures[2].prev_hash[:12]}..., the previous closure hashes to {closure_hash(altered)[:12]}...)",
    ]


def test_a_removed_closure_is_detected():
    key = new_private_key()
    tickets = four_days()
    d21, d22, d23, d24 = close_days(tickets, key)
    assert verify_chain([d21, d23, d24], tickets, key.public_key()) == [
        "day closure 3 of S001-T01 follows closure 1: closure 2 is missing"
    ]
    assert verify_chain([d22, d23, d24], tickets, key.public_key()) == [
        "day closure 2 of S001-T01: the previous closure (1) is missing"
    ]


def test_a_ticket_missing_or_altered_under_a_closure_is_named():
    tickets = four_days()
    d21, d22, *_ = close_days(tickets)
    with pytest.raises(ClosureError) as err:
        check_closure(d22, [tickets[3]], d21)
    assert str(err.value) == "day closure 2 of S001-T01: 1 ticket(s) of its range are missing: seq 3"
    cheaper = msgspec.structs.replace(tickets[3], tenders=[Tender(kind="cash", cents=900)])
    with pytest.raises(ClosureError) as err:
        check_closure(d22, [tickets[2], cheaper], d21)
    assert str(err.value) == (
        "day closure 2 of S001-T01 (2026-11-22): period totals tenders {'cash': 500} "
        "in the closure, {'cash': 400} from the tickets"
    )
