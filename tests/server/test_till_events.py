"""Head office keeps the tills' journal events once, checks them with the till's registered key, and answers
the explorer's and the exceptions page's questions; on SQLite and on a real PostgreSQL."""

from datetime import date, datetime, timezone

import msgspec
import pytest

from programme.journal_event import JournalEvent, encode_event, event_hash, sign_event
from programme.signing import new_private_key, public_key_text
from programme.ticket import GENESIS_HASH, make_line
from server.ingest import till_events
from server.storage.connection import open_connection
from server.ingest.till_events import TillEventError, store_event

TILL = "S001-T01"
NOW = "2026-11-21T12:00:00+00:00"


def chain(key, specs):
    made, prev = [], GENESIS_HASH
    for seq, (kind, cashier, hour, cents) in enumerate(specs, start=1):
        event = sign_event(
            JournalEvent(
                terminal=TILL,
                chain="events",
                seq=seq,
                kind=kind,
                at=datetime(2026, 11, 21, hour, tzinfo=timezone.utc),
                store="S001",
                cashier=cashier,
                lines=[make_line("3017620422003", 1, cents)] if cents else [],
                total_cents=cents,
                prev_hash=prev,
            ),
            key,
        )
        made.append(event)
        prev = event_hash(event)
    return made


@pytest.fixture
def conn(office_target):
    conn = open_connection(office_target)
    yield conn
    conn.close()


def test_events_are_kept_once_checked_and_counted_per_till_and_cashier(conn):
    key = new_private_key()
    with conn:
        conn.execute(
            "INSERT INTO till_keys (terminal, public_key, registered_at) VALUES (?, ?, ?)",
            (TILL, public_key_text(key), NOW),
        )
    events = chain(
        key,
        [
            ("ticket_cancel", "ann", 9, 300),
            ("line_void", "ann", 10, 120),
            ("ticket_cancel", "bob", 11, 50),
            ("reprint", "bob", 23, 0),
        ],
    )
    results = [store_event(conn, encode_event(e), TILL, NOW).status for e in events]
    assert results == ["verified"] * 4
    assert store_event(conn, encode_event(events[0]), TILL, NOW).status == "duplicate"
    forged = msgspec.structs.replace(events[1], total_cents=1)
    kept = store_event(conn, encode_event(forged), TILL, NOW)
    assert (kept.status, kept.reason) == (
        "flagged",
        "event 2 of the events chain of S001-T01 (line_void): the "
        "signature does not match its content (altered after the till signed "
        "it, or signed by another key)",
    )
    padded = sign_event(
        msgspec.structs.replace(
            events[0],
            seq=5,
            prev_hash=event_hash(events[3]),
            total_cents=9999,
            at=datetime(2026, 11, 25, 9, tzinfo=timezone.utc),
            signature=None,
        ),
        key,
    )
    kept = store_event(conn, encode_event(padded), TILL, NOW)
    assert (kept.status, kept.reason) == (
        "flagged",
        "event 5 of the events chain of S001-T01: its total 9999 is not the sum of its lines 300",
    )
    assert store_event(conn, encode_event(events[0]), "S001-T02", NOW).reason == (
        "terminal mismatch: topic is for S001-T02 but the event says S001-T01"
    )
    assert till_events.chain_problems(conn, TILL) == []
    found = till_events.cancellations(conn, date(2026, 11, 21), date(2026, 11, 21), 2)
    assert found == {
        "tills": [
            {
                "terminal": TILL,
                "store": "S001",
                "count": 3,
                "cents": 470,
                "by_kind": {"line_void": 1, "ticket_cancel": 2},
            }
        ],
        "cashiers": [
            {
                "terminal": TILL,
                "store": "S001",
                "cashier": "ann",
                "count": 2,
                "cents": 420,
                "by_kind": {"line_void": 1, "ticket_cancel": 1},
            }
        ],
    }
    # 23:00 UTC is the 22nd in Paris: the reprint is not the 21st's.
    assert [
        e["kind"] for e in till_events.search(conn, "reprints", start=date(2026, 11, 22), end=date(2026, 11, 22))
    ] == ["reprint"]
    with pytest.raises(TillEventError) as err:
        till_events.cancellations(conn, date(2026, 11, 22), date(2026, 11, 21), 2)
    assert str(err.value) == "the period ends (2026-11-21) before it starts (2026-11-22): give the earlier day first"
    with pytest.raises(TillEventError) as err:
        till_events.cancellations(conn, date(2026, 11, 21), date(2026, 11, 21), 0)
    assert str(err.value) == "threshold 0 is outside 1 to 1000000: give a number of cancellations"


def test_a_forged_copy_of_an_event_is_not_counted_twice(conn):
    key = new_private_key()
    with conn:
        conn.execute(
            "INSERT INTO till_keys (terminal, public_key, registered_at) VALUES (?, ?, ?)",
            (TILL, public_key_text(key), NOW),
        )
    (event,) = chain(key, [("ticket_cancel", "ann", 9, 300)])
    store_event(conn, encode_event(event), TILL, NOW)
    store_event(conn, encode_event(msgspec.structs.replace(event, cashier="bob")), TILL, NOW)
    found = till_events.cancellations(conn, date(2026, 11, 21), date(2026, 11, 21), 1)
    assert [(r["cashier"], r["count"]) for r in found["cashiers"]] == [("ann", 1)]


def test_a_tickets_events_and_the_explorers_lists_on_both_engines(office_target, conn):
    from programme.ticket import Tender, Ticket
    from server.analytics import explorer
    from tests.fixtures.headoffice import store_tickets

    key = new_private_key()
    sold_at = datetime(2026, 11, 21, 10, 30, tzinfo=timezone.utc)
    ticket = Ticket(
        id=f"{TILL}-00000001",
        terminal=TILL,
        seq=1,
        store="S001",
        cashier="ann",
        opened_at=sold_at,
        closed_at=sold_at,
        lines=[make_line("3017620422003", 1, 250)],
        tenders=[Tender(kind="cash", cents=250)],
        total_cents=250,
        card=None,
        points=[],
        rules_version="base-1",
    )
    store_tickets(office_target, [ticket])  # unsigned: stored before the till's key is registered
    with conn:
        conn.execute(
            "INSERT INTO till_keys (terminal, public_key, registered_at) VALUES (?, ?, ?)",
            (TILL, public_key_text(key), NOW),
        )
    specs = [
        ("ticket_cancel", "ann", 9, 300),
        ("line_void", "ann", 10, 120),
        ("reprint", "ann", 11, 0),
        ("line_void", "ann", 12, 80),
    ]
    made, prev = [], GENESIS_HASH
    for seq, (kind, cashier, hour, cents) in enumerate(specs, start=1):
        made.append(
            sign_event(
                JournalEvent(
                    terminal=TILL,
                    chain="events",
                    seq=seq,
                    kind=kind,
                    at=datetime(2026, 11, 21, hour, tzinfo=timezone.utc),
                    store="S001",
                    cashier=cashier,
                    after_seq=0 if seq < 3 else 1,
                    ticket_id=ticket.id if kind == "reprint" else None,
                    copy=1 if kind == "reprint" else 0,
                    lines=[make_line("3017620422003", 1, cents)] if cents else [],
                    total_cents=cents,
                    prev_hash=prev,
                ),
                key,
            )
        )
        prev = event_hash(made[-1])
        store_event(conn, encode_event(made[-1]), TILL, NOW)
    found = explorer.detail(conn, ticket.id)
    events = till_events.events_of_ticket(conn, ticket.id, found["terminal"], found["seq"], found["closed_at"])
    # The void of this sale (after the cancelled basket, before the close) and the reprint; not the next sale's.
    assert [(e["kind"], e["seq"], e["copy"]) for e in events] == [("line_void", 2, 0), ("reprint", 3, 1)]
    assert [e["seq"] for e in till_events.search(conn, "voids")] == [4, 2]
    assert [e["seq"] for e in till_events.search(conn, "cancelled", terminal=TILL, start=date(2026, 11, 21))] == [1]
    assert till_events.search(conn, "training") == []
    with pytest.raises(TillEventError) as err:
        till_events.search(conn, "refunds")
    assert str(err.value) == "events 'refunds' not known: choose cancelled, voids, reprints, training"


def test_the_exceptions_page_lists_the_tills_and_cashiers_with_many_cancellations(conn, monkeypatch):
    from server.analytics import exceptions

    key = new_private_key()
    with conn:
        conn.execute(
            "INSERT INTO till_keys (terminal, public_key, registered_at) VALUES (?, ?, ?)",
            (TILL, public_key_text(key), NOW),
        )
    for event in chain(
        key, [("ticket_cancel", "ann", 9, 300), ("line_void", "ann", 10, 120), ("ticket_cancel", "bob", 11, 50)]
    ):
        store_event(conn, encode_event(event), TILL, NOW)
    monkeypatch.setattr(exceptions, "CANCELLATION_THRESHOLD", 2)
    now = datetime(2026, 11, 22, 8, tzinfo=timezone.utc)
    (rows,) = [rows for section, rows in exceptions.exceptions(conn, now=now, days=7) if section.id == "cancellations"]
    assert [r.what for r in rows] == [
        "till S001-T01 (store S001): 3 cancellations, 4.70 EUR",
        "cashier ann at till S001-T01: 2 cancellations, 4.20 EUR",
    ]
