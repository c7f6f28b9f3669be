"""Points moved at the desk (card replaced, points transferred, customers merged) keep the expiry of their lots.

Real SQLite files: tickets stored by the server's ingest, desk actions on the same database, the expiry job
run for the day its schedule names, the office's points summary and the customer page read after.
"""

import sqlite3
from datetime import date, datetime, timezone

import psycopg
import pytest

from programme.points import default_rules
from server.desk import cards, customers, lots
from server.analytics.points import points_summary
from server.desk.expiry import run_expiry
from server.desk.standing import standing
from server.storage.connection import connect_sqlite as connect
from server.ingest.store_api import open_store

from ..fixtures.desk import (  # noqa: F401 - fixtures; both_engines: each test on SQLite and PostgreSQL
    CARD_A,
    CARD_B,
    CARD_C,
    ENROL,
    both_engines,
    sell_anonymously,
)

pytestmark = pytest.mark.usefixtures("english")  # written when the pages spoke only English

RULES = default_rules()  # points earned in year Y expire on 28 February of Y+1


def sell_on(desk, card, day: date, count=1, points_each=12, terminal="S001-T01"):
    """Tickets closed on `day` (at the current time of day), seq numbers after those already sold there."""
    first = desk.conn.execute(
        "SELECT coalesce(max(seq), 0) + 1 FROM tickets WHERE terminal = ?", (terminal,)
    ).fetchone()[0]
    days_ago = (datetime.now(timezone.utc).date() - day).days
    return sell_anonymously(
        desk.db_path, card, count, terminal=terminal, first_seq=first, days_ago=days_ago, points_each=points_each
    )


def on(monkeypatch, moment: str) -> str:
    """The desk acts at `moment` (UTC, ISO): what its ledger entries are dated."""
    monkeypatch.setattr(cards, "utc_now", lambda: moment)
    return moment


def ledger(desk, sql_where="1 = 1", *args):
    return [
        tuple(r)
        for r in desk.conn.execute(
            f"SELECT card, kind, points, cause, at, lot_at FROM ledger WHERE {sql_where} ORDER BY id", args
        )
    ]


def earned_at(desk, card):
    return [
        r[0] for r in desk.conn.execute("SELECT at FROM ledger WHERE card = ? AND kind = 'earn' ORDER BY id", (card,))
    ]


def expiry(desk, day):
    return run_expiry(desk.conn, RULES, day)


def balances(desk, *numbers):
    return tuple(cards.card_balance(desk.conn, n) for n in numbers)


def test_a_card_replaced_in_2026_keeps_the_2025_expiry_of_its_points(desk, monkeypatch):
    sell_on(desk, CARD_A, date(2025, 6, 10), points_each=30)
    sell_on(desk, CARD_A, date(2025, 12, 20), points_each=20)
    sell_on(desk, CARD_A, date(2026, 1, 5), points_each=15)
    customer = customers.enrol(desk.conn, ENROL, "seed")
    cards.issue(desk.conn, customer, CARD_A, "seed")
    moved_at = on(monkeypatch, "2026-01-15T10:00:00+00:00")
    assert cards.replace(desk.conn, CARD_A, CARD_B, "lost", "desk-1") == 65
    audit = desk.conn.execute("SELECT id FROM audit WHERE action = 'replace_card'").fetchone()[0]
    june, december, january = earned_at(desk, CARD_A)
    # The move is dated when it happened; each lot arrives with its own date.
    assert ledger(desk, "kind = 'transfer'") == [
        (CARD_A, "transfer", -65, f"desk:{audit}:out", moved_at, None),
        (CARD_B, "transfer", 30, f"desk:{audit}:in:0", moved_at, june),
        (CARD_B, "transfer", 20, f"desk:{audit}:in:1", moved_at, december),
        (CARD_B, "transfer", 15, f"desk:{audit}:in:2", moved_at, january),
    ]
    # The office sees the 2025 points as expiring next, on the new card.
    summary = points_summary(desk.conn, date(2026, 1, 1), date(2026, 1, 31), as_of=date(2026, 1, 20))
    assert (summary["outstanding"], summary["next_expiry"], summary["expiring_points"]) == (65, "2026-02-28", 50)
    # The desk's standing (as on the customer page) groups the new card's points by the old dates.
    held = standing(desk.conn, [CARD_A, CARD_B], now=datetime(2026, 1, 20, tzinfo=timezone.utc))
    assert held["by_expiry"] == [{"expires_on": "2026-02-28", "points": 50}, {"expires_on": "2027-02-28", "points": 15}]
    assert [(lot["card"], lot["earned_at"], lot["left"]) for lot in held["lots"]] == [
        (CARD_B, june, 30),
        (CARD_B, december, 20),
        (CARD_B, january, 15),
    ]

    assert expiry(desk, date(2026, 2, 27))["entries"] == 0
    # cards: 1, B; the old card A, emptied by the move, has no points left and is not read
    assert expiry(desk, date(2026, 2, 28)) == {
        "as_of": "2026-02-28",
        "rules_version": RULES.version,
        "cards": 1,
        "entries": 2,
        "points": 50,
    }
    assert ledger(desk, "kind = 'expire'") == [
        (CARD_B, "expire", -30, f"expire:{CARD_B}:desk:{audit}:in:0", "2026-02-28T00:00:00+00:00", None),
        (CARD_B, "expire", -20, f"expire:{CARD_B}:desk:{audit}:in:1", "2026-02-28T00:00:00+00:00", None),
    ]
    assert balances(desk, CARD_A, CARD_B) == (0, 15)
    assert expiry(desk, date(2026, 3, 1))["entries"] == 0  # run again: nothing more
    assert expiry(desk, date(2027, 2, 28))["points"] == 15 and balances(desk, CARD_A, CARD_B) == (0, 0)


def test_a_partial_transfer_moves_the_oldest_lots_first(desk, monkeypatch):
    sell_on(desk, CARD_A, date(2025, 3, 1))
    sell_on(desk, CARD_A, date(2025, 9, 1))
    sell_on(desk, CARD_A, date(2026, 1, 3))
    parent = customers.enrol(desk.conn, ENROL, "seed")
    child = customers.enrol(desk.conn, {**ENROL, "name": "Irène Curie"}, "seed")
    cards.issue(desk.conn, parent, CARD_A, "seed")
    cards.issue(desk.conn, child, CARD_B, "seed")
    moved_at = on(monkeypatch, "2026-02-01T09:30:00+00:00")
    assert cards.transfer_points(desk.conn, CARD_A, CARD_B, "18", "gift to daughter", "desk-1") == 18
    audit = desk.conn.execute("SELECT min(id) FROM audit WHERE action = 'transfer_points'").fetchone()[0]
    march, september, _ = earned_at(desk, CARD_A)
    assert ledger(desk, "kind = 'transfer'") == [
        (CARD_A, "transfer", -18, f"desk:{audit}:out", moved_at, None),
        (CARD_B, "transfer", 12, f"desk:{audit}:in:0", moved_at, march),
        (CARD_B, "transfer", 6, f"desk:{audit}:in:1", moved_at, september),
    ]
    assert standing(desk.conn, [CARD_B], now=datetime(2026, 2, 2, tzinfo=timezone.utc))["by_expiry"] == [
        {"expires_on": "2026-02-28", "points": 18}
    ]
    assert standing(desk.conn, [CARD_A], now=datetime(2026, 2, 2, tzinfo=timezone.utc))["by_expiry"] == [
        {"expires_on": "2026-02-28", "points": 6},
        {"expires_on": "2027-02-28", "points": 12},
    ]
    assert expiry(desk, date(2026, 2, 28))["points"] == 24
    assert sorted(r[:3] for r in ledger(desk, "kind = 'expire'")) == [
        (CARD_A, "expire", -6),
        (CARD_B, "expire", -12),
        (CARD_B, "expire", -6),
    ]
    assert balances(desk, CARD_A, CARD_B) == (12, 0)
    assert (customers.balance(desk.conn, parent), customers.balance(desk.conn, child)) == (12, 0)


def test_points_moved_twice_keep_the_first_lots_date(desk, monkeypatch):
    sell_on(desk, CARD_A, date(2025, 5, 5))
    customer = customers.enrol(desk.conn, ENROL, "seed")
    cards.issue(desk.conn, customer, CARD_A, "seed")
    on(monkeypatch, "2026-01-10T08:00:00+00:00")
    cards.replace(desk.conn, CARD_A, CARD_B, "damaged", "desk-1")
    on(monkeypatch, "2026-02-10T08:00:00+00:00")
    cards.replace(desk.conn, CARD_B, CARD_C, "stolen", "desk-1")
    (may,) = earned_at(desk, CARD_A)
    assert [r[5] for r in ledger(desk, "card = ? AND points > 0", CARD_C)] == [may]
    assert expiry(desk, date(2026, 2, 28))["points"] == 12 and balances(desk, CARD_A, CARD_B, CARD_C) == (0, 0, 0)


def test_a_merge_keeps_the_merged_cards_lots_and_their_expiry(desk, monkeypatch):
    sell_on(desk, CARD_B, date(2025, 7, 14), count=2)
    marie = customers.enrol(desk.conn, ENROL, "seed")
    twin = customers.enrol(desk.conn, {**ENROL, "email": "m.curie@example.org"}, "seed")
    cards.issue(desk.conn, marie, CARD_A, "seed")
    cards.issue(desk.conn, twin, CARD_B, "seed")
    sell_on(desk, CARD_A, date(2026, 1, 2))
    before = ledger(desk)
    on(monkeypatch, "2026-01-20T11:00:00+00:00")
    assert cards.merge(desk.conn, marie, twin, "desk-1", "same person") == 1
    assert ledger(desk) == before  # the cards move with their own ledgers: no entry, no new date
    numbers = [c["number"] for c in customers.view(desk.conn, marie)["cards"]]
    assert standing(desk.conn, numbers, now=datetime(2026, 1, 21, tzinfo=timezone.utc))["by_expiry"] == [
        {"expires_on": "2026-02-28", "points": 24},
        {"expires_on": "2027-02-28", "points": 12},
    ]
    # Merged, then the twin's card replaced: still the 2025 schedule.
    cards.replace(desk.conn, CARD_B, CARD_C, "lost", "desk-1")
    assert expiry(desk, date(2026, 2, 28))["points"] == 24
    assert balances(desk, CARD_A, CARD_B, CARD_C) == (12, 0, 0)


def test_a_replayed_move_adds_nothing(desk, monkeypatch):
    sell_on(desk, CARD_A, date(2025, 4, 1), count=2)
    customer = customers.enrol(desk.conn, ENROL, "seed")
    cards.issue(desk.conn, customer, CARD_A, "seed")
    cards.issue(desk.conn, customer, CARD_B, "seed")
    moved_at = on(monkeypatch, "2026-01-15T10:00:00+00:00")
    cards.transfer_points(desk.conn, CARD_A, CARD_B, "20", "household", "desk-1")
    audit = desk.conn.execute("SELECT id FROM audit WHERE action = 'transfer_points'").fetchone()[0]
    sell_on(desk, CARD_A, date(2026, 1, 16))  # the source's lots change after the move
    before = ledger(desk)
    assert lots.move(desk.conn, CARD_A, CARD_B, 20, f"desk:{audit}", moved_at, "again", "again") == 0
    assert ledger(desk) == before and balances(desk, CARD_A, CARD_B) == (16, 20)


def test_a_replacement_of_an_overdrawn_card_moves_the_debt_without_a_lot(desk, monkeypatch):
    desk.conn.execute(
        "INSERT INTO ledger (card, kind, points, rule, cause, ticket_id, at) VALUES "
        "(?, 'redeem', -20, 'points tender', 'ticket:S001-T01-00000001:1', NULL, ?)",
        (CARD_A, "2025-04-01T10:00:00+00:00"),
    )  # an offline redemption beyond the balance
    customer = customers.enrol(desk.conn, ENROL, "seed")
    cards.issue(desk.conn, customer, CARD_A, "seed")
    moved_at = on(monkeypatch, "2026-01-15T10:00:00+00:00")
    assert cards.replace(desk.conn, CARD_A, CARD_B, "lost", "desk-1") == -20
    audit = desk.conn.execute("SELECT id FROM audit WHERE action = 'replace_card'").fetchone()[0]
    assert ledger(desk, "kind = 'transfer'") == [
        (CARD_A, "transfer", 20, f"desk:{audit}:out", moved_at, None),
        (CARD_B, "transfer", -20, f"desk:{audit}:in", moved_at, None),
    ]
    assert balances(desk, CARD_A, CARD_B) == (0, -20)


def test_the_customer_page_shows_the_moved_points_by_their_own_expiry(desk, monkeypatch):
    sell_on(desk, CARD_A, date(2025, 6, 10), count=2)
    customer = customers.enrol(desk.conn, ENROL, "seed")
    cards.issue(desk.conn, customer, CARD_A, "seed")
    on(monkeypatch, datetime.now(timezone.utc).isoformat(timespec="seconds"))
    cards.replace(desk.conn, CARD_A, CARD_B, "lost", "desk-1")
    page = desk.client("card_manager").get(f"/customers/{customer}").get_data(as_text=True)
    table = page[page.index('<table id="expiry">') :]
    table = table[: table.index("</table>")]
    assert '<tr><td>28/02/2026</td><td class="num">24</td></tr>' in table
    assert table.count("<tr><td>") == 1


OLD_LEDGER = """CREATE TABLE ledger (id INTEGER PRIMARY KEY, card TEXT NOT NULL, kind TEXT NOT NULL,
    points INTEGER NOT NULL, rule TEXT NOT NULL, cause TEXT NOT NULL UNIQUE, ticket_id TEXT, at TEXT NOT NULL)"""


def test_a_database_made_before_lot_dates_gets_the_column_and_its_transfers_count_from_their_day(tmp_path):
    path = tmp_path / "old.db"
    old = sqlite3.connect(path)
    old.execute(OLD_LEDGER)
    old.executemany(
        "INSERT INTO ledger (card, kind, points, rule, cause, ticket_id, at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            (CARD_A, "earn", 40, "base", "ticket:X:0", "X", "2025-05-01T10:00:00+00:00"),
            (CARD_A, "transfer", -40, "card lost", "desk:1:out", None, "2026-01-15T10:00:00+00:00"),
            (CARD_B, "transfer", 40, "card lost", "desk:1:in", None, "2026-01-15T10:00:00+00:00"),
        ],
    )
    old.commit()
    old.close()
    conn = connect(path).conn
    connect(path).conn.close()  # a second connection finds the column there
    assert "lot_at" in {r[1] for r in conn.execute("PRAGMA table_info(ledger)")}
    # As before: the old transfer's points count from the day of the move.
    assert run_expiry(conn, RULES, date(2026, 2, 28))["entries"] == 0
    assert run_expiry(conn, RULES, date(2027, 2, 28))["points"] == 40
    conn.close()


def test_postgresql_ledger_made_before_lot_dates_gets_the_column(postgres_url):
    with psycopg.connect(postgres_url, autocommit=True) as raw:
        raw.execute(OLD_LEDGER.replace("INTEGER PRIMARY KEY", "BIGSERIAL PRIMARY KEY"))
    opened = open_store(postgres_url)
    try:
        columns = [
            r[0]
            for r in opened.conn.execute(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_name = 'ledger' ORDER BY ordinal_position"
            ).fetchall()
        ]
    finally:
        opened.close()
    assert columns[-2:] == ["at", "lot_at"]
