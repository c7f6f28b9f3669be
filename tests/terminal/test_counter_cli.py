"""`loyalty till return` and `loyalty till reprint`: the screen's F7 and F8, headless."""

import sqlite3

import pytest

from click.testing import CliRunner

from loyalty.cli import main

pytestmark = pytest.mark.usefixtures("english")  # written when the till spoke only English

CARD = "2900000000018"


def run(*args):
    return CliRunner().invoke(main, list(args))


def test_return_and_reprint_from_the_command_line(tmp_path):
    db = str(tmp_path / "till.db")
    sold = run(
        "till",
        "sell",
        "--terminal",
        "S001-T01",
        "--db",
        db,
        "--card",
        CARD,
        "--line",
        "3017620422003,3,500",
        "--line",
        "3000000000017,1,1150,tobacco",
    )
    assert sold.exit_code == 0, sold.output
    result = run(
        "till", "return", "--terminal", "S001-T01", "--db", db, "--ticket", "S001-T01-00000001", "--line", "2x1"
    )
    assert result.exit_code == 0, result.output
    assert "RETURN" in result.output and "S001-T01-00000002" in result.output
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT quantity, total_cents FROM lines WHERE ticket_id = 'S001-T01-00000002'").fetchall() == [
        (-2, -1000)
    ]
    earned, reversed_ = conn.execute(
        "SELECT sum(points) FILTER (WHERE kind = 'earn'), -sum(points) FILTER (WHERE kind = 'reverse') FROM ledger"
    ).fetchone()
    assert reversed_ == earned * 2 // 3
    too_many = run(
        "till", "return", "--terminal", "S001-T01", "--db", db, "--ticket", "S001-T01-00000001", "--line", "2x1"
    )
    assert too_many.exit_code == 1
    assert "Error: line 1 of S001-T01-00000001: 1 left to return, 2 asked" in too_many.output
    bad = run(
        "till", "return", "--terminal", "S001-T01", "--db", db, "--ticket", "S001-T01-00000001", "--line", "first"
    )
    assert bad.exit_code == 2 and "Invalid value for --line: 'first': give a line number, or QTYxLINE" in bad.output
    copy = run("till", "reprint", "--terminal", "S001-T01", "--db", db, "--ticket", "S001-T01-00000002")
    assert copy.exit_code == 0
    assert copy.output.splitlines()[0].strip() == "*** DUPLICATA 1 ***" == copy.output.splitlines()[-1].strip()
    assert result.output in copy.output


def test_reprint_of_a_ticket_sold_without_the_screen_and_of_an_unknown_one(tmp_path, monkeypatch):
    monkeypatch.setenv("LOYALTY_LANG", "en")
    db = str(tmp_path / "till.db")
    run("till", "sell", "--terminal", "S001-T01", "--db", db, "--line", "3017620422003,2,100")
    result = run("till", "reprint", "--terminal", "S001-T01", "--db", db, "--ticket", "S001-T01-00000001")
    assert result.exit_code == 0
    assert result.output.splitlines()[0].strip() == "*** DUPLICATA 1 ***"
    assert "TOTAL (2 items)                      €2.00" in result.output
    result = run("till", "reprint", "--terminal", "S001-T01", "--db", db, "--ticket", "S001-T01-00000009")
    assert result.exit_code == 1
    assert (
        "Error: no ticket S001-T01-00000009 in this till's journal: check the number at the foot of the receipt"
    ) in result.output
