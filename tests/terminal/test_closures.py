"""Closures at the till from its journal, and the signed archive of a period, through `loyalty till`."""

import hashlib
import json
import sqlite3

import pytest

from programme.closure import totals_of
from terminal.closures import closures, tickets_between
from terminal.journal import Journal
from tests.fixtures.closing import TILL, close, run, sold_till


@pytest.fixture
def till(tmp_path, monkeypatch):
    """A provisioned till that sold 3 tickets on the 20th and 2 on the 21st of November 2026."""
    return sold_till(tmp_path, monkeypatch)


def test_close_days_and_month_from_the_journal(till):
    with Journal(till["db"], TILL) as journal:
        sold = tickets_between(journal, 1)
    d20 = close(till, "close-day", "--date", "2026-11-20")
    d21 = close(till, "close-day", "--date", "2026-11-21")
    month = close(till, "close-month", "--month", "2026-11")
    assert (d20["first_seq"], d20["last_seq"], d21["first_seq"], d21["last_seq"]) == (1, 3, 4, 5)
    expected20, expected_all = totals_of(sold[:3]), totals_of(sold)
    assert d20["period_totals"]["sales_cents"] == expected20.sales_cents > 0
    assert d20["period_totals"]["tickets"] == 3
    assert d21["grand_totals"]["sales_cents"] == expected_all.sales_cents
    assert d21["grand_totals"]["points_earned"] == expected_all.points_earned
    assert month["period_totals"] == month["grand_totals"] == d21["grand_totals"]
    again = run(
        "till",
        "close-day",
        "--terminal",
        TILL,
        "--db",
        till["db"],
        "--key",
        till["key"],
        "--date",
        "2026-11-21",
        ok=False,
    )
    assert again.exit_code == 1
    assert again.output == (
        "Error: S001-T01: day 2026-11-21 is closed already, so 2026-11-21 cannot be closed now "
        "(closures go forward, once per period)\n"
    )
    checked = json.loads(
        run("till", "verify-closures", "--terminal", TILL, "--db", till["db"], "--key", till["key"]).output
    )
    assert checked == {"terminal": TILL, "closures": 3, "problems": []}


def test_closures_are_append_only_and_a_removed_one_is_detected(till):
    for day in ("2026-11-20", "2026-11-21"):
        close(till, "close-day", "--date", day)
    conn = sqlite3.connect(till["db"])
    with pytest.raises(sqlite3.IntegrityError, match="closures are append-only: a closure is never deleted"):
        conn.execute("DELETE FROM closures WHERE number = 1")
    with pytest.raises(sqlite3.IntegrityError, match="closures are append-only: a closure is never changed"):
        conn.execute("UPDATE closures SET period = '2026-11-19'")
    conn.execute("DROP TRIGGER closures_no_delete")  # someone determined, at the file itself
    conn.execute("DELETE FROM closures WHERE number = 1")
    conn.commit()
    conn.close()
    result = run("till", "verify-closures", "--terminal", TILL, "--db", till["db"], "--key", till["key"], ok=False)
    assert result.exit_code == 1
    assert json.loads(result.output)["problems"] == ["day closure 2 of S001-T01: the previous closure (1) is missing"]


def test_archive_round_trip(till):
    close(till, "close-day", "--date", "2026-11-20")
    close(till, "close-day", "--date", "2026-11-21")
    close(till, "close-month", "--month", "2026-11")
    out = till["tmp"] / "S001-T01-2026-11.jsonl"
    made = json.loads(
        run(
            "till",
            "archive",
            "--terminal",
            TILL,
            "--db",
            till["db"],
            "--key",
            till["key"],
            "--period",
            "2026-11",
            "--out",
            out,
        ).output
    )
    assert (made["closures"], made["tickets"]) == (3, 5)
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [next(iter(line)) for line in lines] == ["archive"] + ["closure"] * 3 + ["ticket"] * 5
    with Journal(till["db"], TILL) as journal:
        assert [c["closure"]["number"] for c in lines[1:4]] == [c.number for c in closures(journal)]
    checked = json.loads(run("till", "verify-archive", out, "--public-key", till["public_key"]).output)
    assert checked == {
        "archive": str(out),
        "ok": True,
        "terminal": TILL,
        "period": "2026-11",
        "closures": 3,
        "tickets": 5,
        "key": "given",
    }
    # The 21st alone carries the 20th's closure, so its link and grand totals are checked too.
    day = till["tmp"] / "day.jsonl"
    run(
        "till",
        "archive",
        "--terminal",
        TILL,
        "--db",
        till["db"],
        "--key",
        till["key"],
        "--period",
        "2026-11-21",
        "--out",
        day,
    )
    assert json.loads(run("till", "verify-archive", day).output)["closures"] == 2


def test_a_tampered_archive_is_refused(till):
    close(till, "close-month", "--month", "2026-11")
    out = till["tmp"] / "nov.jsonl"
    run(
        "till",
        "archive",
        "--terminal",
        TILL,
        "--db",
        till["db"],
        "--key",
        till["key"],
        "--period",
        "2026-11",
        "--out",
        out,
    )
    signed = json.loads((till["tmp"] / "nov.jsonl.sig").read_text())["sha256"]
    out.write_text(out.read_text().replace('"cents":', '"cents":1', 1))
    actual = hashlib.sha256(out.read_bytes()).hexdigest()
    result = run("till", "verify-archive", out, "--public-key", till["public_key"], ok=False)
    assert result.exit_code == 1
    assert result.output == (
        f"Error: nov.jsonl was altered after it was signed: its SHA-256 is {actual}, the signature covers {signed}\n"
    )
    other = json.loads(run("till", "provision", "--terminal", "S001-T02", "--key-dir", till["tmp"] / "k2").output)
    (till["tmp"] / "nov2.jsonl").write_bytes(b"")
    unsigned = run("till", "verify-archive", till["tmp"] / "nov2.jsonl", ok=False)
    assert unsigned.output == "Error: no signature beside nov2.jsonl: nov2.jsonl.sig should be next to it\n"
    run(
        "till",
        "archive",
        "--terminal",
        TILL,
        "--db",
        till["db"],
        "--key",
        till["key"],
        "--period",
        "2026-11",
        "--out",
        out,
    )
    foreign = run("till", "verify-archive", out, "--public-key", other["public_key"], ok=False)
    assert foreign.output == (
        "Error: nov.jsonl: the signature is not the till's (made by another key, or altered); "
        "do not trust this archive\n"
    )


def test_an_unclosed_period_cannot_be_archived(till):
    result = run(
        "till",
        "archive",
        "--terminal",
        TILL,
        "--db",
        till["db"],
        "--key",
        till["key"],
        "--period",
        "2026-11",
        "--out",
        till["tmp"] / "x.jsonl",
        ok=False,
    )
    assert result.output == (
        "Error: month 2026-11 of S001-T01 is not closed: run `loyalty till close-month` for it first\n"
    )
