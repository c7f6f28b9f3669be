"""The customer profile from the tickets (SQLite and PostgreSQL: the same figures), on the desk's customer page
and in the API."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from programme.ticket import GENESIS_HASH, PointsEntry, Tender, Ticket, make_line, ticket_hash
from server.analytics import aggregate
from server.analytics.profile import customer_profile, profiles, sentences
from server.storage.desk_db import open_db

from ...fixtures.desk import Desk, text
from ...fixtures.headoffice import CARDS, register_customers, store_tickets

END = date(2026, 6, 30)


def sale(seq: int, day: date, card: str | None, lines: list, terminal: str = "S001-T01") -> Ticket:
    closed = datetime(day.year, day.month, day.day, 11, 0, tzinfo=timezone.utc)
    total = sum(li.total_cents for li in lines)
    points = [PointsEntry(kind="earn", rule="base: 1 point per euro", points=total // 100)] if card else []
    return Ticket(
        id=f"{terminal}-{seq:08d}",
        terminal=terminal,
        seq=seq,
        store=terminal[:4],
        cashier="c1",
        opened_at=closed,
        closed_at=closed,
        lines=lines,
        tenders=[Tender(kind="cash", cents=total)],
        total_cents=total,
        card=card,
        points=points,
        rules_version="base-1",
        prev_hash=GENESIS_HASH,
    )


def chain(tickets: list[Ticket]) -> list[Ticket]:
    import msgspec

    out, prev = [], GENESIS_HASH
    for t in tickets:
        out.append(msgspec.structs.replace(t, prev_hash=prev))
        prev = ticket_hash(out[-1])
    return out


def history() -> list[Ticket]:
    """Card A: fresh lover (half its spend, the store's 20%), every 14 days until 2026-05-12, then nothing;
    one line in two on promotion. The store's other customers (anonymous) buy grocery mostly, no promotion."""
    made = []
    seq = 0
    day = date(2026, 1, 6)  # a Tuesday
    while day <= date(2026, 5, 12):
        seq += 1
        made.append(
            sale(
                seq,
                day,
                CARDS["A"],
                [
                    make_line("3017620422003", 1, 2000, category="fresh"),
                    make_line("3228857000906", 2, 1100, category="grocery", discount_cents=200),
                ],
            )
        )
        day += timedelta(days=14)
    for n in range(20):
        seq += 1
        made.append(
            sale(
                seq,
                date(2026, 3, 1) + timedelta(days=n),
                None,
                [
                    make_line("3017620422003", 1, 2000, category="fresh"),
                    make_line("3228857000906", 1, 8000, category="grocery"),
                ],
            )
        )
    made.sort(key=lambda t: t.closed_at)
    return chain([msgspec_replace(t, seq=n + 1, id=f"S001-T01-{n + 1:08d}") for n, t in enumerate(made)])


def msgspec_replace(t, **changes):
    import msgspec

    return msgspec.structs.replace(t, **changes)


@pytest.fixture
def conn(office_target):
    store_tickets(office_target, history())
    db = open_db(office_target)
    db.row_factory = None
    register_customers(db)
    aggregate.refresh(db)
    yield db
    db.close()


def test_profile_figures(conn):
    p = customer_profile(conn, 1, [CARDS["A"]], END)
    assert (p.tickets, p.visits, p.spend_cents, p.basket_cents, p.items_per_ticket) == (10, 10, 40000, 4000, 2.0)
    assert (p.favourite_store, p.favourite_weekday, p.last_visit) == ("S001", 1, "2026-05-12")
    assert (p.rhythm_days, p.days_since_last, p.churn_risk) == (14.0, 49, "high")
    assert p.churn_ratio == 3.5
    # store S001: fresh 10*2000 + 20*2000 = 60,000 of 40,000 + 20*10,000 = 240,000 -> 0.25; A's 0.5
    assert p.affinity == {"fresh": 2.0, "grocery": 0.67}
    assert (p.promoted_share, p.store_promoted_share) == (0.5, 0.167)
    # last 90 days (from 2026-04-02): 3 visits; the 90 before: 7 visits (from 2026-01-03)
    assert (p.recent_cents, p.before_cents, p.trend) == (12000, 28000, "falling")
    assert p.rfm == "111" and p.value_rank == "top decile"  # the only customer with tickets
    assert profiles(conn, END)["customer:1"] == p


def test_profile_in_words(conn, monkeypatch):
    monkeypatch.setenv("LOYALTY_LANG", "en")
    words = sentences(customer_profile(conn, 1, [CARDS["A"]], END))
    assert words == [
        "Shops mostly at store S001, most often on Tuesday.",
        "10 visits in the last 12 months, about one every 14 days; an average basket of €40.00 (2 items).",
        "Buys more than the store's customers in: fresh (2x the store's share).",
        "50.0% of the items they buy are on promotion (store average 16.7%): watches prices.",
        "Value: among the 10% biggest spenders (RFM score 1-1-1: recency, frequency, spend, 5 is best).",
        "Spending is falling: €120.00 in the last 90 days, €280.00 in the 90 days before.",
        "Risk of losing them: high (last visit 49 days ago, usually every 14 days).",
    ]


def test_customer_page_and_api_show_what_we_know(tmp_path, fast_argon2, office_target, monkeypatch):
    monkeypatch.setenv("LOYALTY_LANG", "en")
    desk = Desk(tmp_path, office_target)
    try:
        store_tickets(desk.db_path, history())
        register_customers(desk.conn)
        client = desk.client("card_manager")
        page = text(client.get("/customers/1"))
        assert "What we know" in page
        assert "Shops mostly at store S001, most often on Tuesday." in page
        assert "Buys more than the store's customers in: fresh" in page
        # customer 3 did not agree to profiling
        assert "This customer has not agreed to profiling: nothing is worked out from their tickets." in text(
            client.get("/customers/3")
        )
        from server.desk import accounts

        auth = {"Authorization": f"Bearer {accounts.create_token(desk.conn, 'head-office')}"}
        api = desk.app.test_client()
        view = api.get("/api/v1/customers/1", headers=auth).json
        assert view["profile"]["favourite_store"] == "S001" and view["profile"]["affinity"]["fresh"] == 2.0
        assert api.get("/api/v1/customers/3", headers=auth).json["profile"] is None
    finally:
        from ...fixtures.headoffice import close_office

        close_office(desk)


def test_the_customer_page_says_what_we_know_in_french_by_default(tmp_path, fast_argon2, office_target):
    desk = Desk(tmp_path, office_target)
    try:
        store_tickets(desk.db_path, history())
        register_customers(desk.conn)
        page = text(desk.client("card_manager").get("/customers/1"))
        known = page[page.index('id="known"') :]
        known = known[: known.index("</section>")]
        assert "<h2>Ce que nous savons</h2>" in known
        assert "Fait surtout ses courses au magasin S001, le plus souvent le mardi." in known
    finally:
        from ...fixtures.headoffice import close_office

        close_office(desk)


def test_profiles_from_the_parquet_archive_are_the_same(conn, tmp_path):
    from server.analytics import archive

    archive.export(conn, tmp_path / "archive")
    from_archive = profiles(conn, END, archive=tmp_path / "archive")
    assert from_archive == profiles(conn, END)
    assert from_archive["customer:1"].affinity == {"fresh": 2.0, "grocery": 0.67}


def test_on_a_large_database_the_page_reads_the_daily_jobs_snapshot(conn, monkeypatch):
    from server.analytics import profile
    from server.analytics.profile import profiles_and_mixes, save_snapshot

    inline = customer_profile(conn, 1, [CARDS["A"]], END)
    monkeypatch.setattr(profile, "INLINE_ROWS", 5)  # the year has more card_day rows than this
    before = customer_profile(conn, 1, [CARDS["A"]], END)
    assert (before.affinity, before.rfm, before.value_rank, before.store_promoted_share) == ({}, "", "", 0.0)
    assert (before.visits, before.churn_risk) == (inline.visits, inline.churn_risk)  # their own tickets
    everyone, mixes = profiles_and_mixes(conn, END)
    save_snapshot(conn, END, everyone, mixes)
    save_snapshot(conn, END, everyone, mixes)  # the next day's run replaces it
    assert customer_profile(conn, 1, [CARDS["A"]], END) == inline
