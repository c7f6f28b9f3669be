"""Head office's jobs over the desk's ledger, `loyalty server expire` and `cheques`, on SQLite and on PostgreSQL."""

import json
import re
from datetime import date, datetime, timezone

from click.testing import CliRunner

from loyalty.cli import main
from server.desk import cards
from server.desk.rules_versions import record_version
from tests.programme.test_rules_docs import DOC, blocks

from ..fixtures.desk import (  # noqa: F401 - fixtures; both_engines: each test on SQLite and PostgreSQL
    CARD_A,
    CARD_B,
    both_engines,
    sell_anonymously,
)

NOW = "2026-11-23T12:00:00+00:00"


def run(*args) -> dict:
    """`loyalty server ARGS`: the JSON it prints (after any progress line)."""
    result = CliRunner().invoke(main, ["server", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.output[result.output.index("{") :])


def test_expire_takes_the_points_past_their_date_once(desk):
    days_ago = (datetime.now(timezone.utc).date() - date(2025, 6, 10)).days
    sell_anonymously(desk.db_path, CARD_A, 2, days_ago=days_ago)  # 24 points earned in 2025: gone on 2026-02-28
    sell_anonymously(desk.db_path, CARD_B, 1, terminal="S002-T01")  # 12 points earned yesterday
    assert run("expire", "--db", desk.db_path, "--as-of", "2026-02-27")["entries"] == 0
    first = run("expire", "--db", desk.db_path, "--as-of", "2026-02-28")
    assert (first["cards"], first["entries"], first["points"]) == (2, 2, 24)
    assert run("expire", "--db", desk.db_path, "--as-of", "2026-03-01")["entries"] == 0  # run again: nothing more
    assert (cards.card_balance(desk.conn, CARD_A), cards.card_balance(desk.conn, CARD_B)) == (0, 12)


def test_scheduled_cheques_are_issued_once_a_day_and_carry_the_remainder(desk):
    (rules,) = [body for kind, body in blocks(DOC.read_text()) if kind == "rules"]
    scheduled = re.sub(r'(?m)^issue = "till"$', 'issue = "schedule"', rules)
    scheduled = re.sub(r"(?m)^effective_from = .*$", "effective_from = 2026-11-30T00:00:00Z", scheduled)
    record_version(desk.conn, scheduled, NOW)
    desk.conn.execute(
        "INSERT INTO ledger (card, kind, points, rule, cause, ticket_id, at) "
        "VALUES (?, 'adjust', 1230, 'a year of shopping', 'desk:test-1', NULL, ?)",
        (CARD_A, NOW),
    )
    desk.conn.execute(
        "INSERT INTO ledger (card, kind, points, rule, cause, ticket_id, at) "
        "VALUES (?, 'adjust', 120, 'a little', 'desk:test-2', NULL, ?)",
        (CARD_B, NOW),
    )
    first = run("cheques", "--db", desk.db_path, "--as-of", "2026-12-01")
    assert (first["rules_version"], first["cards"], first["cheques"], first["cents"]) == ("2026.11-2", 1, 2, 1000)
    assert run("cheques", "--db", desk.db_path, "--as-of", "2026-12-01")["cards"] == 0
    assert (cards.card_balance(desk.conn, CARD_A), cards.card_balance(desk.conn, CARD_B)) == (230, 120)


def test_stats_and_register_till_take_the_same_database(desk, tmp_path):
    sell_anonymously(desk.db_path, CARD_A, 3)
    stats = run("stats", "--db", desk.db_path)
    assert (stats["tickets"], stats["points_earned"], stats["terminals"]["S001-T01"]["contiguous_seq"]) == (3, 36, 3)
    made = CliRunner().invoke(
        main, ["till", "provision", "--terminal", "S001-T01", "--key-dir", str(tmp_path / "keys")]
    )
    public_key = json.loads(made.output)["public_key"]
    assert run("register-till", "--db", desk.db_path, "--terminal", "S001-T01", "--public-key", public_key) == {
        "terminal": "S001-T01",
        "registered": True,
    }
    assert desk.conn.execute("SELECT public_key FROM till_keys WHERE terminal = 'S001-T01'").fetchone()[0] == public_key


def test_an_unreachable_postgresql_is_a_clear_error_for_the_desk_commands(postgres_server):
    url = postgres_server.url("no_such_db")
    for args in (
        ["server", "expire", "--db", url, "--as-of", "2026-03-01"],
        ["server", "stats", "--db", url],
        ["server", "retention", "--db", url],
        ["admin", "users", "--db", url],
    ):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 1, (args, result.output)
        assert result.output.startswith(f"Error: cannot open the PostgreSQL database {url}: "), (args, result.output)
        assert result.output.rstrip().endswith("; check the URL and that the server runs")
