"""Head office keeps the tills' journal events once, checks them with the till's registered key, and answers
the explorer's and the exceptions page's questions; on SQLite and on a real PostgreSQL."""
from datetime import date, datetime, timezone

import msgspec
import pytest

from programme.journal_event import JournalEvent, encode_event, event_hash, sign_event
from programme.signing import new_private_key, public_key_text
from programme.ticket import GENESIS_HASH, make_line
from server import till_events
from server.dbconn import open_connection
from server.till_events import TillEventError, store_event

TILL = "S001-T01"
NOW = "2026-11-21T12:00:00+00:00"


def chain(key, specs):
    made, prev = [], GENESIS_HASH
    for seq, (kind, cashier, hour, cents) in enumerate(specs, start=1):
        event = sign_event(JournalEvent(
            terminal=TILL, chain="events", seq=seq, kind=kind, at=datetime(2026, 11, 21, hour, tzinfo=timezone.utc),
            store="S001", cashier=cashier, lines=[make_line("3017620422003", 1, cents)] if cents else [],
            total_cents=cents, prev_hash=prev), key)
        made.append(event)
        prev = event_hash(event)
    return made


@pytest.fixture
def conn(office_target):
    conn = open_connection(office_target)
    till_events.ensure_schema(conn)
    yield conn
    conn.close()


def test_events_are_kept_once_checked_and_counted_per_till_and_cashier(conn):
    key = new_private_key()
    with conn:
        conn.execute("INSERT INTO till_keys (terminal, public_key, registered_at) VALUES (?, ?, ?)",
                     (TILL, public_key_text(key), NOW))
    events = chain(key, [("ticket_cancel", "ann", 9, 300), ("line_void", "ann", 10, 120),
                         ("ticket_cancel", "bob", 11, 50), ("reprint", "bob", 23, 0)])
    results = [store_event(conn, encode_event(e), TILL, NOW).status for e in events]
    assert results == ["verified"] * 4
    assert store_event(conn, encode_event(events[0]), TILL, NOW).status == "duplicate"
    forged = msgspec.structs.replace(events[1], total_cents=1)
    kept = store_event(conn, encode_event(forged), TILL, NOW)
    assert (kept.status, kept.reason) == ("flagged", "event 2 of the events chain of S001-T01 (line_void): the "
                                          "signature does not match its content (altered after the till signed "
                                          "it, or signed by another key)")
    assert store_event(conn, encode_event(events[0]), "S001-T02", NOW).reason == (
        "terminal mismatch: topic is for S001-T02 but the event says S001-T01")
    assert till_events.chain_problems(conn, TILL) == []
    found = till_events.cancellations(conn, date(2026, 11, 21), date(2026, 11, 21), 2)
    assert found == {"tills": [{"terminal": TILL, "store": "S001", "count": 3, "cents": 470,
                                "by_kind": {"line_void": 1, "ticket_cancel": 2}}],
                     "cashiers": [{"terminal": TILL, "store": "S001", "cashier": "ann", "count": 2, "cents": 420,
                                   "by_kind": {"line_void": 1, "ticket_cancel": 1}}]}
    # 23:00 UTC is the 22nd in Paris: the reprint is not the 21st's.
    assert [e["kind"] for e in till_events.search(conn, "reprints", start=date(2026, 11, 22),
                                                  end=date(2026, 11, 22))] == ["reprint"]
    with pytest.raises(TillEventError) as err:
        till_events.cancellations(conn, date(2026, 11, 22), date(2026, 11, 21), 2)
    assert str(err.value) == "the period ends (2026-11-21) before it starts (2026-11-22): give the earlier day first"
    with pytest.raises(TillEventError) as err:
        till_events.cancellations(conn, date(2026, 11, 21), date(2026, 11, 21), 0)
    assert str(err.value) == "threshold 0 is outside 1 to 1000000: give a number of cancellations"


def test_a_forged_copy_of_an_event_is_not_counted_twice(conn):
    key = new_private_key()
    with conn:
        conn.execute("INSERT INTO till_keys (terminal, public_key, registered_at) VALUES (?, ?, ?)",
                     (TILL, public_key_text(key), NOW))
    (event,) = chain(key, [("ticket_cancel", "ann", 9, 300)])
    store_event(conn, encode_event(event), TILL, NOW)
    store_event(conn, encode_event(msgspec.structs.replace(event, cashier="bob")), TILL, NOW)
    found = till_events.cancellations(conn, date(2026, 11, 21), date(2026, 11, 21), 1)
    assert [(r["cashier"], r["count"]) for r in found["cashiers"]] == [("ann", 1)]
