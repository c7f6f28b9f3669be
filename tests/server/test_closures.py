"""Head office checks the tills' closures against the tickets it holds: verified, or flagged with a reason."""

import json

import msgspec
import pytest

from programme import archive as archive_format
from programme.closure import decode_closure, encode_closure, sign_closure
from server.closures.verify import ImportResult, import_closures, listing
from server.ingest.receive import classify
from server.ingest.store import Store
from sync.codec import encode_ticket
from sync.topics import tickets as tickets_topic
from terminal.closures import closures, tickets_between
from terminal.journal import Journal
from terminal.keys import load_key
from tests.fixtures.closing import TILL, archive, close, run, sold_till

NOW = "2026-12-01T08:00:00+00:00"


@pytest.fixture
def till(tmp_path, monkeypatch):
    """Sold on the 20th and 21st, both days and the month closed, the till registered at head office."""
    till = sold_till(tmp_path, monkeypatch)
    close(till, "close-day", "--date", "2026-11-20")
    close(till, "close-day", "--date", "2026-11-21")
    close(till, "close-month", "--month", "2026-11")
    till["server"] = tmp_path / "server.db"
    run("server", "register-till", "--db", till["server"], "--terminal", TILL, "--public-key", till["public_key"])
    return till


def sync_tickets(till, skip=()):
    """What the outbox would deliver: every ticket of the till but those in `skip` (by seq)."""
    with Journal(till["db"], TILL) as journal:
        payloads = [encode_ticket(t) for t in tickets_between(journal, 1) if t.seq not in skip]
    store = Store(till["server"])
    good, dead = classify([(tickets_topic(TILL), p) for p in payloads])
    store.ingest(good, dead, NOW)
    store.close()


def statuses(till):
    store = Store(till["server"])
    try:
        return [(c["kind"], c["number"], c["status"], c["reason"]) for c in listing(store)]
    finally:
        store.close()


def test_closures_matching_the_servers_tickets_are_verified(till):
    sync_tickets(till)
    result = run("server", "import-closures", "--db", till["server"], archive(till, "2026-11", "nov.jsonl"))
    report = json.loads(result.output)
    assert (report["verified"], report["flagged"], report["reasons"]) == (3, 0, [])
    assert statuses(till) == [("day", 1, "verified", ""), ("day", 2, "verified", ""), ("month", 1, "verified", "")]
    again = json.loads(run("server", "import-closures", "--db", till["server"], till["tmp"] / "nov.jsonl").output)
    assert (again["verified"], again["already"]) == (0, 3)


def test_a_ticket_missing_at_the_server_flags_its_closures_until_it_arrives(till):
    sync_tickets(till, skip={4})
    result = run("server", "import-closures", "--db", till["server"], archive(till, "2026-11", "nov.jsonl"), ok=False)
    assert result.exit_code == 1
    assert statuses(till) == [
        ("day", 1, "verified", ""),
        ("day", 2, "flagged", "day closure 2 of S001-T01: 1 ticket(s) of its range are missing: seq 4"),
        ("month", 1, "flagged", "month closure 1 of S001-T01: 1 ticket(s) of its range are missing: seq 4"),
    ]
    assert run("server", "verify-closures", "--db", till["server"], ok=False).exit_code == 1
    sync_tickets(till)  # the resend arrives
    report = json.loads(run("server", "verify-closures", "--db", till["server"]).output)
    assert (report["verified"], report["flagged"]) == (2, 0)
    assert [c["status"] for c in report["closures"]] == ["verified"] * 3


def test_an_altered_total_is_flagged_with_the_figures(till):
    """A closure whose total was changed and signed again with the till's key (a faulty or dishonest till)."""
    sync_tickets(till)
    with Journal(till["db"], TILL) as journal:
        d20, d21 = closures(journal, "day")
    raw = msgspec.json.decode(encode_closure(d20))
    raw["period_totals"]["sales_cents"] -= 500
    raw["grand_totals"]["sales_cents"] -= 500
    raw["period_totals"]["tenders"]["cash"] -= 500
    raw["grand_totals"]["tenders"]["cash"] -= 500
    forged = sign_closure(decode_closure(msgspec.json.encode(raw)), load_key(till["key"]))
    store = Store(till["server"])
    result = import_closures(store, [forged], NOW)
    store.close()
    assert isinstance(result, ImportResult) and result.flagged == 1
    sales = d20.period_totals.sales_cents
    assert result.reasons == [
        f"day closure 1 of S001-T01 (2026-11-20): period totals sales_cents {sales - 500} "
        f"in the closure, {sales} from the tickets"
    ]


def test_an_altered_closure_without_the_key_fails_its_signature(till):
    sync_tickets(till)
    with Journal(till["db"], TILL) as journal:
        d20, _ = closures(journal, "day")
    raw = msgspec.json.decode(encode_closure(d20))
    raw["grand_totals"]["points_earned"] += 1000
    store = Store(till["server"])
    result = import_closures(store, [decode_closure(msgspec.json.encode(raw))], NOW)
    store.close()
    assert result.reasons == [
        "day closure 1 of S001-T01 (2026-11-20): the signature does not match its content "
        "(altered after the till signed it, or signed by another key)"
    ]


def test_a_closure_whose_predecessor_never_came_is_flagged_until_it_does(till):
    sync_tickets(till)
    with Journal(till["db"], TILL) as journal:
        d20, d21 = closures(journal, "day")
    store = Store(till["server"])
    try:
        first = import_closures(store, [d21], NOW)
        assert first.reasons == [
            "day closure 1 of S001-T01 is not at head office: import the archive holding it, "
            "then run `loyalty server verify-closures`"
        ]
        assert import_closures(store, [d20], NOW).verified == 1
    finally:
        store.close()
    report = json.loads(run("server", "verify-closures", "--db", till["server"]).output)
    assert [(c["number"], c["status"]) for c in report["closures"] if c["kind"] == "day"] == [
        (1, "verified"),
        (2, "verified"),
    ]


def test_a_tampered_archive_is_not_imported(till):
    sync_tickets(till)
    out = archive(till, "2026-11", "nov.jsonl")
    out.write_bytes(out.read_bytes().replace(b'"sales_cents":', b'"sales_cents":9', 1))
    result = run("server", "import-closures", "--db", till["server"], out, ok=False)
    assert result.exit_code == 1
    assert result.output.startswith("Error: nov.jsonl was altered after it was signed: its SHA-256 is ")
    assert statuses(till) == []


def test_an_unregistered_till_archive_is_refused(tmp_path, monkeypatch):
    till = sold_till(tmp_path, monkeypatch)
    close(till, "close-month", "--month", "2026-11")
    (tmp_path / "server.db").touch()
    result = run(
        "server", "import-closures", "--db", tmp_path / "server.db", archive(till, "2026-11", "n.jsonl"), ok=False
    )
    assert result.output == (
        "Error: till S001-T01 has no registered key: register it with "
        "`loyalty server register-till` before importing its archives\n"
    )
    assert archive_format.read(tmp_path / "n.jsonl").header.terminal == TILL


def test_a_closures_event_totals_are_checked_against_the_events_head_office_holds(tmp_path, monkeypatch):
    from datetime import datetime, timezone

    import terminal.journal as journal_module
    from server.ingest.till_events import store_event
    from programme.journal_event import encode_event

    till = sold_till(tmp_path, monkeypatch)
    monkeypatch.setattr(journal_module, "utc_now", lambda: datetime(2026, 11, 20, 15, tzinfo=timezone.utc))
    with Journal(till["db"], TILL, load_key(till["key"])) as journal:
        journal.record_event("reprint", cashier="ann", ticket_id="S001-T01-00000001", copy=1)
        events = journal.events()
    close(till, "close-day", "--date", "2026-11-20")
    till["server"] = tmp_path / "server.db"
    run("server", "register-till", "--db", till["server"], "--terminal", TILL, "--public-key", till["public_key"])
    sync_tickets(till)
    result = run("server", "import-closures", "--db", till["server"], archive(till, "2026-11-20", "d.jsonl"), ok=False)
    assert json.loads(result.output)["reasons"] == [
        "day closure 1 of S001-T01 (2026-11-20): events reprints 1 in the closure, 0 in the journal"
    ]
    store = Store(till["server"])
    assert store_event(store.conn, encode_event(events[0]), TILL, NOW).status == "verified"
    store.close()
    assert json.loads(run("server", "verify-closures", "--db", till["server"]).output)["closures"][0]["status"] == (
        "verified"
    )
