"""NF525 at the till: line voids, cancelled tickets, reprints and training tickets are journaled as signed,
chained events (programme/journal_event.py); a tampered or removed event breaks the chain's verification."""

import sqlite3

import msgspec
import pytest

from programme.journal_event import encode_event, event_hash, verify_chain
from programme.signing import new_private_key, private_key_pem
from terminal.errors import BasketError
from terminal.till import TillSession

OIL, RAZORS = "3000000000014", "3000000000007"


@pytest.fixture
def key(tmp_path):
    key = new_private_key()
    path = tmp_path / "till.key"
    path.write_bytes(private_key_pem(key))
    path.chmod(0o600)
    return key, str(path)


@pytest.fixture
def session(tmp_path, key):
    till = TillSession(str(tmp_path / "till.db"), "S001-T01", cashier="alice", key=key[1])
    yield till
    till.close_session()


def sale(session, *gtins):
    for gtin in gtins:
        session.scan(gtin)
    session.pay("cash")
    return session.close()


def test_voids_and_cancelled_tickets_are_journaled_signed_and_chained(session, key):
    session.scan(OIL)
    session.scan(RAZORS)
    voided = session.void(0)
    session.cancel()
    events = session.journal.events()
    assert [(e.chain, e.seq, e.kind) for e in events] == [("events", 1, "line_void"), ("events", 2, "ticket_cancel")]
    assert events[0].lines == [voided] and events[0].total_cents == voided.total_cents
    assert [line.gtin for line in events[1].lines] == [RAZORS]
    assert events[1].cashier == "alice" and events[1].after_seq == 0
    assert verify_chain(events, key[0].public_key()) == []
    # Each is queued for head office with the tickets' own outbox left alone.
    conn = session.journal.conn
    assert conn.execute("SELECT count(*) FROM event_outbox").fetchone()[0] == 2
    assert session.journal.backlog() == 0
    session.cancel()  # an empty basket cancelled is not a cancelled ticket
    assert len(session.journal.events()) == 2


def test_each_reprint_prints_its_copy_number_and_is_a_signed_event(session, key):
    closed = sale(session, OIL)
    assert "DUPLICATA" not in closed.receipt
    first, second = session.reprint(), session.reprint(closed.ticket.id)
    assert first.splitlines()[0].strip() == first.splitlines()[-1].strip() == "*** DUPLICATA 1 ***"
    assert second.splitlines()[0].strip() == "*** DUPLICATA 2 ***"
    assert session.copies(closed.ticket.id) == 2
    reprints = session.journal.events()
    assert [(e.kind, e.ticket_id, e.copy, e.after_seq) for e in reprints] == [
        ("reprint", closed.ticket.id, 1, 1),
        ("reprint", closed.ticket.id, 2, 1),
    ]
    assert verify_chain(reprints, key[0].public_key()) == []


def test_training_tickets_have_a_chain_of_their_own_and_leave_the_totals_alone(english, session, key):
    sale(session, OIL)
    before = session.journal.totals()
    session.set_training(True)
    session.scan(RAZORS)
    session.void()  # a training void is part of the exercise, not journaled as a real one
    session.scan(RAZORS)
    closed = sale(session)
    assert closed.receipt.splitlines()[0].strip() == "*** MODE ECOLE - TRAINING ***"
    assert session.journal.totals() == before
    assert session.journal.ticket_count() == 1
    events = session.journal.events()
    assert [(e.chain, e.seq, e.kind) for e in events] == [("training", 1, "training_ticket")]
    assert events[0].total_cents == closed.ticket.total_cents > 0
    session.scan(OIL)
    with pytest.raises(BasketError) as err:
        session.set_training(False)
    assert str(err.value) == "a sale is in progress: close or cancel it before switching training mode"


def tamper(db, sql):
    conn = sqlite3.connect(db)
    conn.execute("DROP TRIGGER IF EXISTS till_events_no_update")
    conn.execute("DROP TRIGGER IF EXISTS till_events_no_delete")
    conn.execute(sql)
    conn.commit()
    conn.close()


def test_the_journal_is_append_only_and_a_tampered_event_breaks_the_chain(session, key, tmp_path):
    for _ in range(3):
        session.scan(OIL)
        session.cancel()
    db = str(tmp_path / "till.db")
    conn = sqlite3.connect(db)
    with pytest.raises(sqlite3.IntegrityError, match="the journal is append-only: an event is never deleted"):
        conn.execute("DELETE FROM till_events WHERE seq = 2")
    with pytest.raises(sqlite3.IntegrityError, match="the journal is append-only: an event is never changed"):
        conn.execute("UPDATE till_events SET total_cents = 0")
    conn.close()
    # The cancelled amount of event 2 lowered in its payload: its signature no longer holds.
    second, third = session.journal.events()[1:]
    lowered = msgspec.structs.replace(second, total_cents=1)
    tamper(db, f"UPDATE till_events SET payload = X'{encode_event(lowered).hex()}' WHERE seq = 2")
    assert verify_chain(session.journal.events(), key[0].public_key()) == [
        "event 2 of the events chain of S001-T01 (ticket_cancel): the signature does not match its content "
        "(altered after the till signed it, or signed by another key)",
        f"event 3 of the events chain of S001-T01: the chain is broken (it names {third.prev_hash[:12]}..., "
        f"the previous event hashes to {event_hash(lowered)[:12]}...)",
    ]
    tamper(db, "DELETE FROM till_events WHERE seq = 2")
    assert verify_chain(session.journal.events(), None) == [
        "event 3 of the events chain of S001-T01: event 2 of its chain is missing before it"
    ]


def test_a_till_without_its_key_cannot_close_the_day(english, tmp_path):
    from terminal.errors import TillError

    till = TillSession(str(tmp_path / "bare.db"), "S001-T01")
    try:
        with pytest.raises(TillError) as err:
            till.close_day()
        assert str(err.value) == (
            "this till has no signing key: provision it (loyalty till provision) before closing a day"
        )
    finally:
        till.close_session()
