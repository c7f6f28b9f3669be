"""NF525 at the till: a year closed, events counted in the day closure, each archiving journaled, and the
archive kept six years (purging younger data refused with a clear message)."""

import json
from datetime import datetime, timezone

import pytest

import terminal.journal as journal_module
from programme.ticket import make_line
from terminal.journal import Journal
from tests.fixtures.closing import TILL, archive, close, run, sold_till


@pytest.fixture
def till(tmp_path, monkeypatch):
    return sold_till(tmp_path, monkeypatch)


def test_a_day_closure_counts_its_events_and_a_year_is_closed(till, monkeypatch):
    monkeypatch.setattr(journal_module, "utc_now", lambda: datetime(2026, 11, 20, 15, tzinfo=timezone.utc))
    with Journal(till["db"], TILL) as journal:
        journal.record_event("ticket_cancel", cashier="ann", lines=[make_line("3017620422003", 2, 150)])
        journal.record_event("reprint", cashier="ann", ticket_id="S001-T01-00000001", copy=1)
    d20 = close(till, "close-day", "--date", "2026-11-20")
    assert d20["events"] == {
        "line_voids": 0,
        "line_voids_cents": 0,
        "cancelled": 1,
        "cancelled_cents": 300,
        "reprints": 1,
        "training": 0,
        "training_cents": 0,
        "archivings": 0,
    }
    assert set(d20["period_totals"]["vat"]) == {"2000"}
    year = close(till, "close-year", "--year", "2026")
    assert (year["kind"], year["first_seq"], year["last_seq"]) == ("year", 1, 5)
    assert year["grand_totals"]["sales_cents"] == year["period_totals"]["sales_cents"]
    assert year["events"]["cancelled"] == 1
    checked = json.loads(
        run("till", "verify-closures", "--terminal", TILL, "--db", till["db"], "--key", till["key"]).output
    )
    assert checked["problems"] == []


def test_each_archiving_is_journaled_and_the_archive_is_kept_six_years(till):
    close(till, "close-day", "--date", "2026-11-20")
    out = archive(till, "2026-11-20", "day.jsonl")
    with Journal(till["db"], TILL) as journal:
        (event,) = journal.events()
    assert (event.kind, event.chain, event.seq) == ("archive", "events", 1)
    assert event.detail.startswith(f"archive 2026-11-20 {out.name} sha256:")
    refused = run("till", "purge", "--terminal", TILL, "--db", till["db"], "--period", "2026-11-20", ok=False)
    assert refused.exit_code == 1
    assert refused.output == (
        "Error: day 2026-11-20 of S001-T01 is kept 6 years (NF525): it cannot be purged before 2032-11-20\n"
    )


def test_an_archived_period_six_years_old_is_purged_and_the_purge_is_journaled(till):
    from terminal.closures import ClosingError, purge, verify_journal
    from terminal.keys import load_key

    close(till, "close-day", "--date", "2026-11-20")
    close(till, "close-day", "--date", "2026-11-21")
    archive(till, "2026-11-20", "day.jsonl")
    later = datetime(2033, 1, 2, tzinfo=timezone.utc)
    with Journal(till["db"], TILL) as journal:
        with pytest.raises(ClosingError) as err:
            purge(journal, "2026-11-21", later)
        assert str(err.value) == (
            "day 2026-11-21 of S001-T01 was never archived: run `loyalty till archive "
            "--period 2026-11-21` and keep the file before purging it"
        )
        assert purge(journal, "2026-11-20", later) == {
            "terminal": TILL,
            "period": "2026-11-20",
            "tickets": 3,
            "first_seq": 1,
            "last_seq": 3,
        }
        assert journal.ticket_count() == 2
        assert [e.detail.split(" ")[0] for e in journal.events()] == ["archive", "purge"]
        assert verify_journal(journal, load_key(till["key"])) == []


def test_a_year_is_archived_and_its_archive_verifies(till):
    close(till, "close-month", "--month", "2026-11")
    close(till, "close-year", "--year", "2026")
    out = archive(till, "2026", "year.jsonl")
    checked = json.loads(run("till", "verify-archive", out, "--public-key", till["public_key"]).output)
    assert (checked["period"], checked["closures"], checked["tickets"]) == ("2026", 2, 5)
