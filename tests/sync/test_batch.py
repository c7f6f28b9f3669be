"""A till's backlog travels in batches of ticket messages; each ticket keeps its bytes, digest and checks."""

import hashlib

import msgspec
import pytest

from server.ingest.receive import classify
from server.ingest.store import Store
from sync import sender as sender_module
from sync.codec import MAX_BATCH_BYTES, encode_batch, encode_ticket, split_batch
from sync.errors import CodecError
from sync.sender import batches
from sync.topics import tickets as tickets_topic
from terminal.journal import Journal
from terminal.sale import sell
from terminal.simulate import Shopper

from ..fixtures.chain import Till, start_ingestor
from ..fixtures.mqtt import Listener

TOPIC = tickets_topic("S001-T01")


def ticket_payloads(tmp_path, count):
    shopper = Shopper(seed=4)
    with Journal(tmp_path / "till.db", "S001-T01") as journal:
        return [encode_ticket(sell(journal, *shopper.basket())) for _ in range(count)]


def test_a_batch_gives_back_each_message_byte_for_byte(tmp_path):
    payloads = ticket_payloads(tmp_path, 3)
    assert split_batch(encode_batch(payloads)) == payloads


def test_an_unreadable_batch_says_why():
    with pytest.raises(CodecError) as bad:
        split_batch(b'{"schema":1,"batch":[{"schema":1,')
    assert bad.value.reason.startswith("malformed batch: ")
    with pytest.raises(CodecError) as big:
        split_batch(b'{"schema":1,"batch":[' + b" " * MAX_BATCH_BYTES + b"]}")
    assert big.value.reason == f"batch of {MAX_BATCH_BYTES + 23} bytes exceeds the limit of {MAX_BATCH_BYTES} bytes"


def test_outbox_rows_go_in_runs_of_one_topic_within_the_limits(monkeypatch):
    rows = [(n, "a" if n <= 120 else "b", b"x" * 10) for n in range(1, 131)]
    assert [(len(run), run[0][1]) for run in batches(rows)] == [(50, "a"), (50, "a"), (20, "a"), (10, "b")]
    monkeypatch.setattr(sender_module, "MAX_BATCH_BYTES", 100)
    runs = batches(rows[:10])
    assert [len(run) for run in runs] == [7, 3]
    # 7 messages make 99 bytes with the envelope and commas; an 8th would make 110
    assert len(encode_batch([p for *_, p in runs[0]])) == 99


def test_a_wrong_ticket_in_a_batch_is_dead_lettered_alone_and_the_others_stored(tmp_path):
    payloads = ticket_payloads(tmp_path, 3)
    wrong = msgspec.json.decode(payloads[1])
    wrong["ticket"]["total_cents"] += 1
    payloads[1] = msgspec.json.encode(wrong)
    good, dead = classify([(TOPIC, encode_batch(payloads))])
    assert [t.seq for _, t, _ in good] == [1, 3]
    assert [(d.terminal, d.seq) for d in dead] == [("S001-T01", 2)] and dead[0].reason.startswith("invalid ticket: ")
    store = Store(tmp_path / "server.db")
    result = store.ingest(good, dead, "2026-11-23T12:00:00+00:00")
    assert (result.stored, result.dead_letters, result.acks) == (2, 1, {"S001-T01": 3})
    # the ack names the till's own bytes for ticket 3, as when it was sent alone
    assert store.ack_digest("S001-T01", 3) == hashlib.sha256(payloads[2]).hexdigest()
    store.close()


@pytest.mark.timeout(120)
def test_a_backlog_is_sent_in_batches_and_every_ticket_arrives(tmp_path, mosquitto):
    till = Till(tmp_path, "S001-T01", 0)
    listener = Listener(mosquitto.port, TOPIC)
    ingestor = start_ingestor(tmp_path / "server.db", mosquitto.url)
    try:
        till.sell(300)
        till.connect(mosquitto.url)
        assert till.sender.wait_synced(60)
        assert listener.wait_for(
            lambda messages: (
                sum(len(split_batch(p)) if p.startswith(b'{"schema":1,"batch":') else 1 for _, p in messages) >= 300
            )
        )
        assert len(listener.messages) <= 300 // sender_module.BATCH_TICKETS + 4
        assert till.journal.backlog() == 0
    finally:
        ingestor.stop()
        listener.close()
        till.close()
    store = Store(tmp_path / "server.db")
    stats = store.stats()
    store.close()
    assert stats["tickets"] == 300 and stats["dead_letters"] == 0
    assert stats["terminals"]["S001-T01"]["contiguous_seq"] == 300
