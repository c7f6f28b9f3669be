"""Points reserved at head office before a till spends them, and overdrafts flagged at ingest: both engines."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest

from programme.ticket import Tender, make_line
from server.ingest import overdraft, reservations
from server.ingest.receive import classify
from server.ingest.store_api import open_store
from sync.codec import encode_ticket
from sync.topics import tickets as tickets_topic
from terminal.journal import Journal
from terminal.sale import close_sale


CARD = "2900000000018"
NOW = datetime(2026, 12, 5, 17, 0, tzinfo=timezone.utc)
INGESTED = "2026-12-05T17:05:00+00:00"


def credit(store, card: str, points: int, cause: str = "seed") -> None:
    with store.conn:
        store.conn.execute(
            "INSERT INTO ledger (card, kind, points, rule, cause, ticket_id, at) "
            "VALUES (?, 'adjust', ?, 'desk', ?, NULL, ?)",
            (card, points, cause, NOW.isoformat()),
        )


def reserve(store, terminal: str, points: int, request_id: str, card: str = CARD, after_seq: int = 0, now=NOW):
    return reservations.reserve(store.conn, terminal, card, points, after_seq, request_id, now)


def spend(tmp_path, terminal: str, points: int, card: str = CARD) -> tuple[str, bytes]:
    """A ticket of `terminal` paid by `points` of the card (one article of that many cents), as a message."""
    with Journal(tmp_path / f"{terminal}.db", terminal) as journal:
        ticket = close_sale(
            journal,
            [make_line("3000000000014", 1, points, "grocery", "olive oil")],
            card,
            "ann",
            [Tender(kind="points", cents=points)],
            redeemed_points=points,
        )
    return tickets_topic(terminal), encode_ticket(ticket)


def ingest(store, messages):
    good, dead = classify(messages)
    return store.ingest(good, dead, INGESTED)


def balance(store, card: str = CARD) -> int:
    return store.balances([card]).get(card, 0)


def test_points_held_by_one_till_are_refused_to_another_with_what_is_left(store):
    credit(store, CARD, 5000)
    granted = reserve(store, "S001-T01", 4880, "r1")
    assert (granted.granted, granted.id, granted.available, granted.expires_at) == (
        True,
        "r1",
        120,
        NOW + reservations.RESERVATION_TTL,
    )
    refused = reserve(store, "S002-T01", 5000, "r2")
    assert (refused.granted, refused.available, refused.message) == (
        False,
        120,
        "only 120 points available: another till holds a reservation of 4880 points on this card; redeem at most 120",
    )
    assert reserve(store, "S002-T01", 120, "r3").granted
    refused = reserve(store, "S002-T01", 1, "r4")  # its own 120 are held too: 4,880 by the other till
    assert refused.message == (
        "no points available: another till holds a reservation of 4880 points on this card; wait until that sale closes"
    )
    assert [(h["id"], h["points"]) for h in reservations.held(store.conn, CARD, NOW)] == [("r1", 4880), ("r3", 120)]


def test_a_released_or_lapsed_reservation_frees_its_points(store):
    credit(store, CARD, 5000)
    assert reserve(store, "S001-T01", 5000, "r1").granted
    assert not reservations.release(store.conn, "S002-T01", "r1", NOW)  # only the till that holds it
    assert not reserve(store, "S002-T01", 5000, "r2").granted
    assert reservations.release(store.conn, "S001-T01", "r1", NOW)
    assert reserve(store, "S002-T01", 5000, "r3").granted
    later = NOW + reservations.RESERVATION_TTL + timedelta(seconds=1)  # r3 lapsed unused
    assert reserve(store, "S001-T01", 5000, "r4", now=later).granted


def test_the_same_request_twice_holds_the_points_once(store):
    credit(store, CARD, 5000)
    first, again = reserve(store, "S001-T01", 3000, "r1"), reserve(store, "S001-T01", 3000, "r1")
    assert (first.granted, again.granted, again.id) == (True, True, "r1")
    assert reserve(store, "S002-T01", 2000, "r2").granted  # 3,000 held once, not twice


@pytest.mark.timeout(120)
def test_two_tills_asking_at_the_same_moment_cannot_both_get_the_last_points(store):
    """Two answering processes (two connections), a barrier: every round exactly one reservation is granted."""
    target = store.path
    others = [open_store(target), open_store(target)]
    try:
        for n in range(15):
            card = f"29000000{n:04d}"
            card += str((10 - sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(card)) % 10) % 10)
            credit(store, card, 500, cause=f"seed-{n}")
            barrier, outcomes = threading.Barrier(2), [None, None]

            def ask(k: int) -> None:
                barrier.wait(10)
                outcomes[k] = reservations.reserve(others[k].conn, f"S00{k + 1}-T01", card, 500, 0, f"r{n}-{k}", NOW)

            threads = [threading.Thread(target=ask, args=(k,)) for k in (0, 1)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(30)
            assert sorted(o.granted for o in outcomes) == [False, True], f"round {n}: {outcomes}"
    finally:
        for other in others:
            other.close()


def test_the_ticket_that_uses_a_reservation_consumes_it(tmp_path, store):
    credit(store, CARD, 5000)
    assert reserve(store, "S001-T01", 5000, "r1").granted
    ingest(store, [spend(tmp_path, "S001-T01", 5000)])
    row = store.conn.execute("SELECT status, ticket_id, ended_at FROM reservations WHERE id = 'r1'").fetchone()
    assert tuple(row) == ("consumed", "S001-T01-00000001", INGESTED)
    assert balance(store) == 50  # 5,000 spent, 50 earned on the article
    refused = reserve(store, "S002-T01", 5000, "r2")
    assert (refused.granted, refused.available, refused.message) == (
        False,
        50,
        "only 50 points available at head office for this card, 5000 asked; redeem at most 50",
    )
    assert overdraft.recent(store.conn) == []


def test_an_older_ticket_synced_late_does_not_consume_a_later_reservation(tmp_path, store):
    credit(store, CARD, 5000)
    old = spend(tmp_path, "S001-T01", 100)  # sold offline, seq 1
    assert reserve(store, "S001-T01", 200, "r1", after_seq=1).granted  # the next sale, after it
    ingest(store, [old])
    assert store.conn.execute("SELECT status FROM reservations WHERE id = 'r1'").fetchone()[0] == "held"


def test_a_card_overdrawn_by_two_offline_tills_is_flagged_with_its_tickets(tmp_path, store):
    credit(store, CARD, 5000)
    a, b = spend(tmp_path, "S001-T01", 5000), spend(tmp_path, "S002-T01", 5000)
    ingest(store, [a])
    assert overdraft.recent(store.conn) == []  # 50 left: nothing to flag
    ingest(store, [b])
    (flagged,) = overdraft.recent(store.conn)
    assert (flagged["card"], flagged["balance"], flagged["tickets"], flagged["detected_at"]) == (
        CARD,
        -4900,
        ["S001-T01-00000001", "S002-T01-00000001"],
        INGESTED,
    )
    assert balance(store) == -4900
    ingest(store, [a, b])  # replayed: stored once, flagged once
    assert overdraft.count(store.conn) == 1
