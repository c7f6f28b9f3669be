"""NF525 closures: the store's local day (Europe/Paris), yearly closures, VAT per rate and the journal
events counted apart from the sales. Names are imported in each test so that each one fails on its own."""

from datetime import datetime, timezone

import msgspec

from programme.closure import make_closure, select_period
from programme.journal_event import JournalEvent
from programme.ticket import make_line
from tests.programme.test_closure import TILL, at, close_days, four_days


def test_the_day_boundary_is_paris_midnight_not_utc_23_30_in_winter_is_the_next_day():
    from programme.closure import period_of

    tickets = four_days()
    late = msgspec.structs.replace(tickets[1], closed_at=datetime(2026, 11, 21, 23, 30, tzinfo=timezone.utc))
    assert period_of(late.closed_at, "day") == "2026-11-22"
    assert [t.seq for t in select_period([tickets[0], late], "2026-11-21")] == [1]
    summer = datetime(2026, 7, 14, 22, 30, tzinfo=timezone.utc)  # 00:30 on the 15th in Paris (UTC+2)
    assert period_of(summer, "day") == "2026-07-15"
    assert period_of(datetime(2026, 12, 31, 23, 30, tzinfo=timezone.utc), "year") == "2027"


def test_vat_per_rate_takes_a_missing_rate_as_the_standard_20_percent():
    from programme.closure import Vat, vat_per_rate

    assert vat_per_rate([(1250, None), (1000, 550), (-500, 2000)]) == {
        "2000": Vat(ttc_cents=750, tva_cents=125, ht_cents=625),
        "550": Vat(ttc_cents=1000, tva_cents=52, ht_cents=948),
    }
    d21, d22, _, d24 = close_days(four_days())
    assert d21.period_totals.vat == {"2000": Vat(ttc_cents=1250, tva_cents=208, ht_cents=1042)}
    assert d22.period_totals.vat == {"2000": Vat(ttc_cents=500, tva_cents=83, ht_cents=417)}
    assert d24.grand_totals.vat == {"2000": Vat(ttc_cents=1850, tva_cents=308, ht_cents=1542)}


def test_a_yearly_closure_is_its_own_chain_with_the_perpetual_total():
    from programme.closure import verify_chain

    tickets = four_days()
    year = make_closure(
        TILL, "2026", select_period(tickets, "2026"), None, datetime(2026, 12, 31, 23, 5, tzinfo=timezone.utc)
    )
    assert (year.kind, year.first_seq, year.last_seq, year.number) == ("year", 1, 5, 1)
    assert year.grand_totals == close_days(tickets)[-1].grand_totals
    assert year.grand_totals.net_cents == 1850
    assert verify_chain([year], tickets, None) == []


def event(seq, kind, when, cents=0, chain="events"):
    lines = [make_line("3017620422003", 1, cents)] if cents else []
    return JournalEvent(
        terminal=TILL,
        chain=chain,
        seq=seq,
        kind=kind,
        at=when,
        store="S001",
        cashier="ann",
        lines=lines,
        total_cents=cents,
    )


def test_closures_count_the_periods_events_apart_from_the_sales():
    from programme.closure import check_closure
    from programme.errors import ProgrammeError
    from programme.journal_event import EventTotals

    tickets = four_days()
    events = [
        event(1, "line_void", at(21, 9), 300),
        event(2, "ticket_cancel", at(21, 12), 450),
        event(3, "reprint", at(21, 19)),
        event(1, "training_ticket", at(21, 20), 999, "training"),
        event(4, "ticket_cancel", datetime(2026, 11, 21, 23, 30, tzinfo=timezone.utc), 100),
    ]
    d21 = make_closure(TILL, "2026-11-21", select_period(tickets, "2026-11-21"), None, at(22, 6), events)
    assert d21.events == EventTotals(
        line_voids=1, line_voids_cents=300, cancelled=1, cancelled_cents=450, reprints=1, training=1, training_cents=999
    )
    assert d21.period_totals.sales_cents == 1250  # training leaves the totals alone
    check_closure(d21, tickets[:2], None, events)
    try:
        check_closure(d21, tickets[:2], None, events[:1])
    except ProgrammeError as exc:
        assert str(exc) == (
            "day closure 1 of S001-T01 (2026-11-21): events cancelled 1 in the closure, 0 in the journal"
        )
    else:
        raise AssertionError("a missing event went unnoticed")


def test_an_event_after_the_day_was_closed_counts_in_the_next_closure():
    from programme.closure import check_closure

    tickets = four_days()
    early = [event(1, "reprint", at(21, 9))]
    d21 = make_closure(TILL, "2026-11-21", select_period(tickets, "2026-11-21"), None, at(21, 19), early)
    evening = [*early, event(2, "reprint", at(21, 21))]  # the Z report was printed at 19:00; a reprint at 21:00
    check_closure(d21, tickets[:2], None, evening)
    d22 = make_closure(TILL, "2026-11-22", select_period(tickets[2:], "2026-11-22"), d21, at(22, 23), evening)
    assert (d21.events.reprints, d22.events.reprints, d22.last_events) == (1, 1, {"events": 2, "training": 0})
    check_closure(d22, tickets[2:4], d21, evening)
