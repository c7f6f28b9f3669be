"""`loyalty generate`: real tickets (payloads decode, hashes chain per till), skewed spending, weekly peaks."""

from __future__ import annotations

import json
from datetime import date

import pytest
from click.testing import CliRunner

from loyalty.cli import main
from programme.ticket import GENESIS_HASH, ticket_hash
from server.analytics import generate as gen
from server.analytics import value
from server.storage.desk_db import open_db
from server.errors import ServerError
from sync.codec import decode_ticket

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
