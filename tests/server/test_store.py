import msgspec

from server.ingest.receive import classify
from server.ingest.store import Store
from sync.codec import encode_ticket
from sync.topics import tickets as tickets_topic
from terminal.journal import Journal
from terminal.sale import sell
from terminal.simulate import Shopper

NOW = "2026-11-23T12:00:00+00:00"


def till_messages(tmp_path, count, terminal="S001-T01"):
    shopper = Shopper(seed=1)
    with Journal(tmp_path / f"{terminal}.db", terminal) as journal:
        return [(tickets_topic(terminal), encode_ticket(sell(journal, *shopper.basket()))) for _ in range(count)]


def ingest(store, messages):
    good, dead = classify(messages)
    return store.ingest(good, dead, NOW)


def test_same_message_twice_is_stored_once(tmp_path):
    store = Store(tmp_path / "server.db")
    messages = till_messages(tmp_path, 3)
    first = ingest(store, messages + messages[:1])
    again = ingest(store, messages)
    assert (first.stored, first.duplicates, again.stored, again.duplicates) == (3, 1, 0, 3)
    assert store.ticket_count() == 3 and again.acks == {"S001-T01": 3}


def test_out_of_order_is_stored_in_order_and_the_gap_recorded_then_resolved(tmp_path):
    store = Store(tmp_path / "server.db")
    m = till_messages(tmp_path, 5)
    result = ingest(store, [m[0], m[3], m[4]])
    assert result.acks == {"S001-T01": 1} and result.gaps == {"S001-T01": 2}
    assert store.stats()["terminals"]["S001-T01"]["gaps"] == [[2, 3]]
    result = ingest(store, [m[2], m[1]])
    assert result.acks == {"S001-T01": 5} and result.gaps == {}
    assert [s for (s,) in store.conn.execute("SELECT seq FROM tickets ORDER BY rowid")] == [1, 4, 5, 2, 3]
    assert [s for (s,) in store.conn.execute("SELECT seq FROM tickets ORDER BY terminal, seq")] == [1, 2, 3, 4, 5]
    gap = store.conn.execute("SELECT from_seq, to_seq, resolved_at FROM gaps").fetchall()
    assert gap == [(2, 3, NOW)]
    assert store.stats()["terminals"]["S001-T01"]["gaps"] == []


def test_conflicting_duplicate_goes_to_dead_letter(tmp_path):
    store = Store(tmp_path / "server.db")
    ((topic, payload),) = till_messages(tmp_path, 1)
    ingest(store, [(topic, payload)])
    raw = msgspec.json.decode(payload)
    raw["ticket"]["cashier"] = "mallory"
    result = ingest(store, [(topic, msgspec.json.encode(raw))])
    assert result.dead_letters == 1
    assert store.dead_letters()[0]["reason"] == (
        "conflicting duplicate: ticket S001-T01-00000001 was already stored with different content"
    )


def test_an_invalid_ticket_is_kept_in_dead_letter_and_does_not_block_acks(tmp_path):
    store = Store(tmp_path / "server.db")
    m = till_messages(tmp_path, 3)
    raw = msgspec.json.decode(m[1][1])
    raw["ticket"]["total_cents"] += 1
    result = ingest(store, [m[0], (m[1][0], msgspec.json.encode(raw)), m[2]])
    assert (result.stored, result.dead_letters, result.acks) == (2, 1, {"S001-T01": 3})
    (letter,) = store.dead_letters()
    assert (letter["terminal"], letter["seq"]) == ("S001-T01", 2)
    assert letter["reason"].startswith("invalid ticket: ticket S001-T01-00000002: total ")


def test_stats_and_points_ledger(tmp_path):
    store = Store(tmp_path / "server.db")
    messages = till_messages(tmp_path, 20)
    ingest(store, messages)
    stats = store.stats()
    earned = sum(
        entry["points"]
        for _, p in messages
        for entry in msgspec.json.decode(p)["ticket"]["points"]
        if entry["kind"] == "earn"
    )
    assert stats["points_earned"] == earned
    assert store.conn.execute("SELECT coalesce(sum(points), 0) FROM ledger").fetchone()[0] == earned
    assert stats["terminals"]["S001-T01"]["contiguous_seq"] == 20
