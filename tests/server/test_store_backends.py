"""The store's behaviours on both backends: SQLite (a file) and a real PostgreSQL (fixture), via open_store."""

import threading

import msgspec
import pytest

from programme.signing import sign_ticket
from server.errors import StoreError
from server.ingest.store_api import open_store
from server.storage.connection import redacted
from sync.codec import decode_ticket, encode_ticket
from sync.topics import tickets as tickets_topic
from terminal.journal import Journal
from terminal.keys import load_key, provision
from terminal.sale import sell
from terminal.simulate import Shopper

from .test_store import NOW, ingest, till_messages


def rows(store, sql):
    return [tuple(r) for r in store.conn.execute(sql).fetchall()]


def test_same_message_twice_is_stored_once(tmp_path, store):
    messages = till_messages(tmp_path, 3)
    first = ingest(store, messages + messages[:1])
    again = ingest(store, messages)
    assert (first.stored, first.duplicates, again.stored, again.duplicates) == (3, 1, 0, 3)
    assert store.ticket_count() == 3 and again.acks == {"S001-T01": 3}
    assert store.stats()["lines"] == sum(len(msgspec.json.decode(p)["ticket"]["lines"]) for _, p in messages)


def test_out_of_order_is_stored_and_the_gap_recorded_then_resolved(tmp_path, store):
    m = till_messages(tmp_path, 5)
    result = ingest(store, [m[0], m[3], m[4]])
    assert result.acks == {"S001-T01": 1} and result.gaps == {"S001-T01": 2}
    assert store.stats()["terminals"]["S001-T01"]["gaps"] == [[2, 3]]
    result = ingest(store, [m[2], m[1]])
    assert result.acks == {"S001-T01": 5} and result.gaps == {}
    assert rows(store, "SELECT seq FROM tickets ORDER BY terminal, seq") == [(1,), (2,), (3,), (4,), (5,)]
    assert rows(store, "SELECT from_seq, to_seq, resolved_at FROM gaps") == [(2, 3, NOW)]
    assert store.stats()["terminals"]["S001-T01"]["gaps"] == [] and store.acks() == {"S001-T01": 5}


def test_conflicting_duplicate_goes_to_dead_letter(tmp_path, store):
    ((topic, payload),) = till_messages(tmp_path, 1)
    ingest(store, [(topic, payload)])
    raw = msgspec.json.decode(payload)
    raw["ticket"]["cashier"] = "mallory"
    result = ingest(store, [(topic, msgspec.json.encode(raw))])
    assert (result.stored, result.duplicates, result.dead_letters) == (0, 1, 1)
    assert store.dead_letters()[0]["reason"] == (
        "conflicting duplicate: ticket S001-T01-00000001 was already stored with different content"
    )


def test_conflicting_duplicates_in_one_batch_keep_the_first(tmp_path, store):
    ((topic, payload),) = till_messages(tmp_path, 1)
    raw = msgspec.json.decode(payload)
    raw["ticket"]["cashier"] = "mallory"
    result = ingest(store, [(topic, payload), (topic, msgspec.json.encode(raw))])
    assert (result.stored, result.duplicates, result.dead_letters) == (1, 1, 1)
    assert rows(store, "SELECT cashier FROM tickets") == [(msgspec.json.decode(payload)["ticket"]["cashier"],)]


def test_an_invalid_ticket_is_kept_in_dead_letter_and_does_not_block_acks(tmp_path, store):
    m = till_messages(tmp_path, 3)
    raw = msgspec.json.decode(m[1][1])
    raw["ticket"]["total_cents"] += 1
    result = ingest(store, [m[0], (m[1][0], msgspec.json.encode(raw)), m[2]])
    assert (result.stored, result.dead_letters, result.acks) == (2, 1, {"S001-T01": 3})
    (letter,) = store.dead_letters()
    assert (letter["terminal"], letter["seq"], letter["size"]) == ("S001-T01", 2, len(msgspec.json.encode(raw)))
    assert letter["reason"].startswith("invalid ticket: ticket S001-T01-00000002: total ")


def test_stats_and_points_ledger(tmp_path, store):
    messages = till_messages(tmp_path, 20) + till_messages(tmp_path, 4, terminal="S002-T01")
    ingest(store, messages)
    stats = store.stats()
    tickets = [msgspec.json.decode(p)["ticket"] for _, p in messages]
    earned = sum(e["points"] for t in tickets for e in t["points"] if e["kind"] == "earn")
    assert (stats["tickets"], stats["total_cents"]) == (24, sum(t["total_cents"] for t in tickets))
    assert stats["points_earned"] == earned
    assert rows(store, "SELECT coalesce(sum(points), 0) FROM ledger") == [(earned,)]
    assert {t: v["contiguous_seq"] for t, v in stats["terminals"].items()} == {"S001-T01": 20, "S002-T01": 4}


def signed_payloads(tmp_path, store, count):
    key_path, public_key = provision("S001-T01", tmp_path / "keys")
    store.register_till("S001-T01", public_key, NOW)
    shopper = Shopper(seed=2)
    with Journal(tmp_path / "signed.db", "S001-T01", load_key(key_path)) as journal:
        return key_path, [encode_ticket(sell(journal, *shopper.basket())) for _ in range(count)]


def test_a_tampered_ticket_is_quarantined_and_the_genuine_one_stored_later(tmp_path, store):
    _, (m1, m2, m3) = signed_payloads(tmp_path, store, 3)
    raw = msgspec.json.decode(m2)
    raw["ticket"]["cashier"] = "mallory"
    topic = tickets_topic("S001-T01")
    result = ingest(store, [(topic, m1), (topic, msgspec.json.encode(raw)), (topic, m3)])
    assert (result.stored, result.quarantined, result.acks) == (2, 1, {"S001-T01": 3})
    assert rows(store, "SELECT ticket_id, reason FROM quarantine") == [
        (
            "S001-T01-00000002",
            "ticket S001-T01-00000002: the signature does not match its content "
            "(altered after the till closed it, or signed by another key)",
        )
    ]
    assert ingest(store, [(topic, m2)]).stored == 1 and store.ticket_count() == 3
    assert (store.stats()["quarantined"], store.stats()["chain_breaks"]) == (1, 0)


def test_a_till_registered_by_another_process_is_verified_from_the_next_batch(tmp_path, store):
    """`loyalty server register-till` while the server runs: the running ingest must not go on unverified."""
    topic = tickets_topic("S001-T01")
    ingest(store, till_messages(tmp_path, 1, terminal="S009-T01"))  # the running store has read its keys
    operator = open_store(store.path)  # the command's own connection
    try:
        _, (m1, m2) = signed_payloads(tmp_path, operator, 2)
    finally:
        operator.close()
    raw = msgspec.json.decode(m2)
    raw["ticket"]["cashier"] = "mallory"
    result = ingest(store, [(topic, m1), (topic, msgspec.json.encode(raw))])
    assert (result.stored, result.quarantined) == (1, 1)


def test_a_broken_chain_is_recorded(tmp_path, store):
    key_path, (m1, m2) = signed_payloads(tmp_path, store, 2)
    forged = decode_ticket(m2)
    forged = sign_ticket(msgspec.structs.replace(forged, prev_hash="f" * 64, signature=None), load_key(key_path))
    topic = tickets_topic("S001-T01")
    ingest(store, [(topic, encode_ticket(forged)), (topic, m1)])
    assert rows(store, "SELECT seq, found_prev_hash FROM chain_breaks") == [(2, "f" * 64)]
    assert store.stats()["chain_breaks"] == 1


def test_postgres_tickets_are_partitioned_by_month_created_on_demand(tmp_path, postgres_url):
    store = open_store(postgres_url)
    messages = []
    for month, closed in ((10, "2026-10-31T23:59:59+00:00"), (11, "2026-11-01T00:00:00+00:00")):
        for topic, payload in till_messages(tmp_path, 2, terminal=f"S00{month - 9}-T01"):
            raw = msgspec.json.decode(payload)
            raw["ticket"]["opened_at"] = raw["ticket"]["closed_at"] = closed
            messages.append((topic, msgspec.json.encode(raw)))
    assert ingest(store, messages).stored == 4
    assert rows(store, "SELECT tableoid::regclass::text, count(*) FROM tickets GROUP BY 1 ORDER BY 1") == [
        ("tickets_2026_10", 2),
        ("tickets_2026_11", 2),
    ]
    assert rows(store, "SELECT count(*) FROM pg_inherits WHERE inhparent = 'tickets'::regclass") == [(2,)]
    store.close()


def test_postgres_two_workers_at_once_store_once_and_ack_everything(tmp_path, postgres_url):
    """Shared-subscription workers: the same till's tickets split (and repeated) across two stores."""
    messages = till_messages(tmp_path, 60)
    stores = [open_store(postgres_url) for _ in range(2)]
    halves = [messages[0::2] + messages[:10], messages[1::2] + messages[:10]]
    results = [[] for _ in stores]

    def work(n):
        for start in range(0, len(halves[n]), 7):
            results[n].append(ingest(stores[n], halves[n][start : start + 7]))

    threads = [threading.Thread(target=work, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sum(r.stored for rs in results for r in rs) == 60
    assert sum(r.duplicates for rs in results for r in rs) == 20
    assert stores[0].acks() == {"S001-T01": 60} and stores[0].stats()["dead_letters"] == 0
    for opened in stores:
        opened.close()


def test_an_unreachable_postgres_is_a_clear_error(postgres_server):
    url = postgres_server.url("no_such_db").replace("postgres@", "postgres:secret@")
    with pytest.raises(StoreError) as caught:
        open_store(url)
    assert str(caught.value).startswith(
        f"cannot open the PostgreSQL database postgresql://postgres@127.0.0.1:{postgres_server.port}/no_such_db: "
    )
    assert "secret" not in str(caught.value) and str(caught.value).endswith("; check the URL and that the server runs")
    assert redacted("postgresql://u:p@h/db") == "postgresql://u@h/db"


def test_postgres_a_lost_connection_fails_the_batch_whole_and_the_retry_reconnects(tmp_path, postgres_url):
    """What ingest does on a write error: the batch rolled back, tried again on a new connection."""
    import psycopg

    from server.storage.connection import WRITE_ERRORS

    store = open_store(postgres_url)
    m = till_messages(tmp_path, 4)
    ingest(store, m[:2])
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (store.conn.raw.info.backend_pid,))
    with pytest.raises(WRITE_ERRORS):
        ingest(store, m[2:])
    result = ingest(store, m[2:])
    assert (result.stored, result.acks, store.ticket_count()) == (2, {"S001-T01": 4}, 4)
    store.close()


def test_a_tills_view_of_a_balance_leaves_its_tickets_past_a_gap_to_it(tmp_path, store):
    """The server holds tickets 1, 2 and 4 of the till (3 is lost on the way): the balance it sends that till
    counts 1 and 2 only, with sequence 2, so the till adds 3 and 4 itself and each is counted once."""
    from programme.ticket import make_line, utc_now
    from terminal.cardstate import card_balance, remember_balance

    card = "2900000000018"
    with Journal(tmp_path / "till.db", "S001-T01") as journal:
        sold = [sell(journal, [make_line("3017620422003", n, 1000)], card) for n in (1, 2, 3, 4)]  # 10+20+30+40
        ingest(store, [(tickets_topic("S001-T01"), encode_ticket(t)) for t in sold if t.seq != 3])
        assert store.balances([card]) == {card: 70}
        points, seq = store.balances_for_till("S001-T01", [card])
        assert (points, seq) == ({card: 30}, 2)
        assert store.balances_for_till("S002-T01", [card]) == ({card: 70}, 0)  # another till sold none of them
        remember_balance(journal.conn, card, points[card], utc_now(), as_of_seq=seq)
        seen = card_balance(journal.conn, card, online=True)
        assert (seen.known_points, seen.local_points, seen.points) == (30, 70, 100)
