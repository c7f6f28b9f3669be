import json
import os
import sqlite3

from click.testing import CliRunner

from loyalty.cli import main


def run(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_sell_prints_the_ticket(tmp_path):
    db = str(tmp_path / "till.db")
    result = run(
        "till",
        "sell",
        "--terminal",
        "S001-T01",
        "--db",
        db,
        "--card",
        "2900000000018",
        "--line",
        "3017620422003,2,199",
        "--line",
        "3000000000017,1,1150,tobacco",
    )
    assert result.exit_code == 0, result.output
    ticket = json.loads(result.output)
    assert ticket["id"] == "S001-T01-00000001"
    assert ticket["total_cents"] == 1548
    assert ticket["points"] == [{"kind": "earn", "rule": "base", "points": 3, "line": 0}]


def test_wrong_check_digit_is_refused_and_nothing_written(tmp_path):
    db = tmp_path / "till.db"
    result = CliRunner().invoke(
        main,
        [
            "till",
            "sell",
            "--terminal",
            "S001-T01",
            "--db",
            str(db),
            "--card",
            "2900000000019",
            "--line",
            "3017620422003,1,100",
        ],
    )
    assert result.exit_code == 2
    assert (
        "Invalid value for --card: card number 2900000000019 has a wrong check digit: expected 8, got 9; "
        "check the number typed or scan the card again"
    ) in result.output
    assert not db.exists()


def test_wrong_check_digit_writes_nothing_to_an_existing_journal(tmp_path):
    db = str(tmp_path / "till.db")
    run("till", "sell", "--terminal", "S001-T01", "--db", db, "--line", "3017620422003,1,100")
    result = CliRunner().invoke(
        main,
        [
            "till",
            "sell",
            "--terminal",
            "S001-T01",
            "--db",
            db,
            "--card",
            "2900000000010",
            "--line",
            "3017620422003,1,100",
        ],
    )
    assert result.exit_code == 2 and "expected 8, got 0" in result.output
    assert sqlite3.connect(db).execute("SELECT count(*) FROM tickets").fetchone() == (1,)


def test_bad_line_and_terminal(tmp_path):
    db = str(tmp_path / "till.db")
    result = CliRunner().invoke(main, ["till", "sell", "--terminal", "S001-T01", "--db", db, "--line", "123"])
    assert "Invalid value for --line: line '123' should be GTIN,QTY,UNIT_CENTS[,CATEGORY]" in result.output
    result = CliRunner().invoke(
        main, ["till", "sell", "--terminal", "till1", "--db", db, "--line", "3017620422003,1,100"]
    )
    assert "Invalid value for --terminal: terminal id 'till1' is not of the form S042-T07" in result.output


def test_simulate_closes_realistic_tickets(tmp_path):
    db = str(tmp_path / "till.db")
    result = run("till", "simulate", "--terminal", "S001-T02", "--db", db, "--tickets", "200", "--seed", "3")
    summary = json.loads(result.output.strip().splitlines()[-1])
    assert summary["tickets"] == 200 and summary["backlog"] == 200
    conn = sqlite3.connect(db)
    sizes = [n for (n,) in conn.execute("SELECT count(*) FROM lines GROUP BY ticket_id")]
    assert 1 <= min(sizes) and max(sizes) <= 60
    with_card = conn.execute("SELECT count(*) FROM tickets WHERE card IS NOT NULL").fetchone()[0]
    assert 80 <= with_card <= 160  # about 60 %


def test_sync_without_broker_fails_clearly_and_keeps_the_outbox(tmp_path):
    db = str(tmp_path / "till.db")
    run("till", "sell", "--terminal", "S001-T01", "--db", db, "--line", "3017620422003,1,100")
    from sync.mosquitto import free_port

    result = CliRunner().invoke(
        main,
        [
            "till",
            "sync",
            "--terminal",
            "S001-T01",
            "--db",
            db,
            "--broker",
            f"mqtt://127.0.0.1:{free_port()}",
            "--wait",
            "1",
        ],
    )
    assert result.exit_code == 1
    assert (
        "Error: 1 tickets still wait in the outbox after 1 s: the broker could not be reached. "
        "They are kept; run the sync again when the server is up."
    ) in result.output
    assert json.loads(result.output.splitlines()[0])["backlog"] == 1
    assert os.path.exists(db)


def test_a_negative_quantity_is_refused_outside_returns_and_nothing_written(tmp_path):
    """Issue 15, finding 11: `till sell` took -5 units (a 0-euro ticket that earned points)."""
    db = tmp_path / "till.db"
    result = CliRunner().invoke(
        main,
        [
            "till",
            "sell",
            "--terminal",
            "S001-T01",
            "--db",
            str(db),
            "--card",
            "2900000000018",
            "--line",
            "3017620422003,5,199",
            "--line",
            "3017620422004,-5,199",
        ],
    )
    assert result.exit_code == 2
    assert (
        "Invalid value for --line: line '3017620422004,-5,199': quantity must be 1 or more; "
        "a return goes through `loyalty till return`"
    ) in result.output
    assert not db.exists()
