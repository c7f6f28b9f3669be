"""`loyalty generate`: real tickets (payloads decode, hashes chain per till), skewed spending, weekly peaks."""

from __future__ import annotations

import json
from datetime import date
from importlib import resources

import pytest
from click.testing import CliRunner

from loyalty.cli import main
from programme.engine import context_of_entries
from programme.points import RULES_VERSION, default_rules, earn_points
from programme.ticket import GENESIS_HASH, ticket_hash
from server.analytics import generate as gen
from server.analytics import value
from server.desk.rules_versions import record_version
from server.ingest.rules_check import RulesCatalog, check_ticket, tier_book
from server.storage.desk_db import open_db
from server.errors import ServerError
from sync.codec import decode_ticket, read_stored_ticket

END = "2026-06-30"


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    path = tmp_path_factory.mktemp("gen") / "server.db"
    result = CliRunner().invoke(
        main,
        [
            "generate",
            "--db",
            str(path),
            "--customers",
            "300",
            "--tickets",
            "6000",
            "--stores",
            "3",
            "--seed",
            "7",
            "--end",
            END,
        ],
    )
    assert result.exit_code == 0, result.output
    conn = open_db(path)
    conn.row_factory = None
    yield json.loads(result.output.strip().splitlines()[-1]), conn, path
    conn.close()


def test_counts_and_period(generated):
    summary, conn, _ = generated
    assert (summary["tickets"], summary["customers"], summary["stores"]) == (6000, 300, 3)
    assert (summary["first_day"], summary["last_day"]) == ("2025-07-01", END)
    assert conn.execute("SELECT count(*) FROM tickets").fetchone()[0] == 6000
    assert conn.execute("SELECT count(DISTINCT store) FROM tickets").fetchone()[0] == 3
    assert conn.execute(
        "SELECT min(substr(closed_at, 1, 10)), max(substr(closed_at, 1, 10)) FROM tickets"
    ).fetchone() == ("2025-07-01", END)
    assert conn.execute("SELECT count(*) FROM lines").fetchone()[0] == summary["lines"]
    registered = conn.execute("SELECT count(*) FROM cards").fetchone()[0]
    assert 0.75 * 300 < registered < 0.95 * 300
    assert (
        conn.execute("SELECT sum(tickets) FROM card_day").fetchone()[0]
        == conn.execute("SELECT count(*) FROM tickets WHERE card IS NOT NULL").fetchone()[0]
    )


def test_tickets_are_real_and_chained_per_till(generated):
    _, conn, _ = generated
    previous: dict[str, str] = {}
    for terminal, seq, stored_hash, prev_hash, payload, total in conn.execute(
        "SELECT terminal, seq, hash, prev_hash, payload, total_cents FROM tickets ORDER BY terminal, seq"
    ):
        ticket = decode_ticket(payload, terminal)
        assert ticket_hash(ticket) == stored_hash
        assert prev_hash == previous.get(terminal, GENESIS_HASH)
        assert total == sum(li.total_cents for li in ticket.lines)
        previous[terminal] = stored_hash
    terminals = conn.execute("SELECT terminal, contiguous_seq, max_seq FROM terminals").fetchall()
    counts = dict(conn.execute("SELECT terminal, count(*) FROM tickets GROUP BY terminal").fetchall())
    assert all(c == m == counts[t] for t, c, m in terminals)
    assert conn.execute("SELECT count(*) FROM ledger WHERE kind = 'earn'").fetchone()[0] > 0


def test_spending_is_skewed_and_saturday_peaks(generated):
    _, conn, _ = generated
    values = value.customer_values(conn, date(2025, 7, 1), date(2026, 6, 30))
    assert value.top_share(values, 0.2) > 0.5
    by_weekday = dict(conn.execute("SELECT strftime('%w', closed_at), count(*) FROM tickets GROUP BY 1").fetchall())
    assert max(by_weekday, key=by_weekday.get) == "6"  # Saturday
    december = conn.execute("SELECT count(*) FROM tickets WHERE closed_at LIKE '2025-12-%'").fetchone()[0]
    august = conn.execute("SELECT count(*) FROM tickets WHERE closed_at LIKE '2025-08-%'").fetchone()[0]
    assert december > august * 1.3
    hours = dict(conn.execute("SELECT substr(closed_at, 12, 2), count(*) FROM tickets GROUP BY 1").fetchall())
    assert max(hours, key=hours.get) == "12"


def test_same_seed_same_data_and_refuses_a_full_database(generated, tmp_path):
    _, conn, path = generated
    other = open_db(tmp_path / "again.db")
    other.row_factory = None
    gen.generate(other, gen.Plan(300, 6000, 3, seed=7, end=date.fromisoformat(END)))
    digest = "SELECT hash FROM tickets ORDER BY id"
    assert other.execute(digest).fetchall() == conn.execute(digest).fetchall()
    with pytest.raises(ServerError) as refused:
        gen.generate(other, gen.Plan(10, 10, 1))
    assert str(refused.value) == "the database already holds tickets: generate into a new file (give another --db)"
    other.close()


def test_the_generator_refuses_postgresql_saying_what_to_do():
    result = CliRunner().invoke(main, ["generate", "--db", "postgresql://analyst@127.0.0.1:1/loyalty"])
    assert result.exit_code == 1
    assert result.output == (
        "Error: the generator writes SQLite files only: generate into a file (--db generated.db), or fill "
        "PostgreSQL through ingest (`loyalty demo`, or tills syncing to `loyalty server --db postgresql://...`)\n"
    )


def card_tickets(conn) -> list:
    return [
        read_stored_ticket(bytes(payload))
        for (payload,) in conn.execute("SELECT payload FROM tickets WHERE card IS NOT NULL ORDER BY closed_at, id")
    ]


def rules_check_findings(conn, tickets) -> list:
    """What ingest's points check (server/ingest/rules_check.py) finds on these stored tickets."""
    catalog = RulesCatalog().refresh(conn)
    tiers = tier_book(conn, catalog, tickets)
    return [found for found in (check_ticket(catalog, t, conn, tiers) for t in tickets) if found is not None]


def test_points_are_the_engine_s_as_a_till_computes_them_and_ingest_accepts_every_ticket(generated):
    _, conn, _ = generated
    tickets = card_tickets(conn)
    assert {t.rules_version for t in tickets} == {RULES_VERSION}
    for ticket in tickets[:: len(tickets) // 200]:  # recomputed with the engine from the lines and the rules
        tier, segments = context_of_entries(ticket.points)
        earned = earn_points(ticket.lines, ticket.card, default_rules(), ticket.opened_at, ticket.store, tier, segments)
        assert earned == [e for e in ticket.points if e.kind == "earn"], ticket.id
    assert rules_check_findings(conn, tickets) == []
    # the heaviest customers reach a tier, so its extra points are in play; the ledger books what the tickets hold
    assert conn.execute("SELECT count(*) FROM ledger WHERE rule = 'tier:silver' AND points > 0").fetchone()[0] > 0
    assert (
        conn.execute("SELECT sum(points) FROM ledger").fetchone()[0]
        == conn.execute("SELECT sum(points_earned - points_redeemed) FROM tickets").fetchone()[0]
    )


def test_the_rules_the_database_publishes_give_the_points(tmp_path):
    text = (resources.files("programme") / "default_rules.toml").read_text()
    text = text.replace('version = "2026.1"', 'version = "2026.2"').replace(
        "effective_from = 2026-01-01T00:00:00Z", "effective_from = 2026-03-01T00:00:00Z"
    )
    text += '\n[[multipliers]]\ncategory = "dairy"\npercent = 200\n'
    conn = open_db(tmp_path / "published.db")
    conn.row_factory = None
    with conn:
        record_version(conn, text, "2025-06-01T00:00:00+00:00")
    gen.generate(conn, gen.Plan(100, 1500, 2, seed=3, end=date.fromisoformat(END)))
    tickets = card_tickets(conn)
    versions = {(t.opened_at.date() >= date(2026, 3, 1), t.rules_version) for t in tickets}
    assert versions == {(False, "2026.1"), (True, "2026.2")}
    assert any(e.rule == "category:dairy" for t in tickets for e in t.points if t.rules_version == "2026.2")
    assert rules_check_findings(conn, tickets) == []
    conn.close()


def test_the_days_played_after_the_offers_are_closed_as_a_till_would(tmp_path):
    conn = open_db(tmp_path / "tastes.db")
    conn.row_factory = None
    gen.generate(conn, gen.Plan(600, 12000, 3, seed=5, end=date.fromisoformat(END), hidden_tastes=True))
    found = gen.offer_check(conn, date(2026, 7, 1), days=7, seed=5)
    played = [
        read_stored_ticket(bytes(payload))
        for (payload,) in conn.execute(
            "SELECT payload FROM tickets WHERE closed_at >= '2026-07-01' AND card IS NOT NULL ORDER BY closed_at, id"
        )
    ]
    assert len(played) == found["played"]["tickets"] > 0
    offers = [e for t in played for e in t.points if e.rule.startswith("offer:")]
    assert len(offers) == found["played"]["offers_used"] > 0
    assert rules_check_findings(conn, played) == []
    conn.close()
