"""A ticket closed at a till reaches the server exactly once, over a real Mosquitto."""

import json

import msgspec
import pytest
from click.testing import CliRunner

from loyalty.cli import main
from server.ingest.store import Store
from sync import topics

from ..fixtures.chain import ServerProcess, Till, count_tickets, start_ingestor, wait_until
from ..fixtures.mqtt import Listener, RawPublisher


@pytest.fixture
def tills(tmp_path):
    made = []

    def make(terminal, seed=0):
        made.append(Till(tmp_path, terminal, seed))
        return made[-1]

    yield make
    for till in made:
        till.close()


def assert_server_matches(db, tills):
    store = Store(db)
    stats = store.stats()
    store.close()
    journals = [t.journal.totals() for t in tills]
    assert stats["tickets"] == sum(j["tickets"] for j in journals)
    assert stats["total_cents"] == sum(j["total_cents"] for j in journals)
    assert stats["points_earned"] == sum(j["points_earned"] for j in journals)
    for till in tills:
        assert stats["terminals"][till.terminal]["contiguous_seq"] == till.journal.last_seq()
        assert till.journal.backlog() == 0
    return stats


@pytest.mark.timeout(120)
def test_1000_tickets_from_3_tills_arrive_exactly_once(tmp_path, mosquitto, tills):
    ingestor = start_ingestor(tmp_path / "server.db", mosquitto.url)
    try:
        group = [tills(f"S001-T0{n}", seed=n) for n in (1, 2, 3)]
        for till in group:
            till.connect(mosquitto.url)
        for round_ in range(10):
            for n, till in enumerate(group):
                till.sell(34 if n < 2 else 32)
        assert all(t.sender.wait_synced(60) for t in group)
    finally:
        ingestor.stop()
    stats = assert_server_matches(tmp_path / "server.db", group)
    assert stats["tickets"] == 1000 and stats["dead_letters"] == 0


@pytest.mark.timeout(180)
def test_server_killed_mid_catch_up_then_restarted(tmp_path, mosquitto, tills):
    till = tills("S001-T01")
    till.sell(3000)
    db = tmp_path / "server.db"
    server = ServerProcess(db, mosquitto.url).start()
    try:
        till.connect(mosquitto.url)
        wait_until(lambda: count_tickets(db) >= 300, 60, "the server to store its first tickets")
        server.kill()
        stored_at_kill = count_tickets(db)
        assert 300 <= stored_at_kill < 3000, "the kill must land in the middle of the catch-up"
        server.start()
        assert till.sender.wait_synced(120)
    finally:
        server.stop()
    stats = assert_server_matches(db, [till])
    assert stats["tickets"] == 3000
    assert till.sender.status.acked_to == 3000


@pytest.mark.timeout(120)
def test_broker_down_while_the_till_sells_500(tmp_path, mosquitto, tills):
    ingestor = start_ingestor(tmp_path / "server.db", mosquitto.url)
    till = tills("S001-T01")
    try:
        till.connect(mosquitto.url)
        till.sell(10)
        assert till.sender.wait_synced(30)
        mosquitto.stop()
        till.sell(500)
        assert till.journal.backlog() == 500 and not till.sender.status.connected
        mosquitto.start()
        assert till.sender.wait_synced(60)
    finally:
        ingestor.stop()
    assert assert_server_matches(tmp_path / "server.db", [till])["tickets"] == 510


def ticket_messages(till, count):
    till.sell(count)
    rows = till.journal.conn.execute("SELECT payload FROM outbox ORDER BY seq").fetchall()
    return [payload for (payload,) in rows]


@pytest.mark.timeout(60)
def test_duplicates_and_out_of_order_are_stored_once_in_order(tmp_path, mosquitto, tills):
    till = tills("S001-T01")
    m1, m2, m3 = ticket_messages(till, 3)
    ingestor = start_ingestor(tmp_path / "server.db", mosquitto.url)
    acks = Listener(mosquitto.port, topics.acks("S001-T01"))
    resend = Listener(mosquitto.port, topics.commands("S001-T01"))
    raw = RawPublisher(mosquitto.port)
    topic = topics.tickets("S001-T01")
    try:
        for payload in (m1, m3, m1, m3):
            raw.publish(topic, payload)
        assert resend.wait_for(lambda ms: any(json.loads(p)["from_seq"] == 2 for _, p in ms))
        assert json.loads(resend.messages[0][1]) == {"schema": 1, "command": "resend", "from_seq": 2}
        raw.publish(topic, m2)
        raw.publish(topic, m2)
        assert acks.wait_for(lambda ms: any(json.loads(p)["acked_to"] == 3 for _, p in ms))
    finally:
        for client in (raw, acks, resend):
            client.close()
        ingestor.stop()
    store = Store(tmp_path / "server.db")
    assert [s for (s,) in store.conn.execute("SELECT seq FROM tickets ORDER BY terminal, seq")] == [1, 2, 3]
    assert store.stats()["terminals"]["S001-T01"]["gaps"] == []
    assert all(json.loads(p)["acked_to"] <= 3 for _, p in acks.messages)


@pytest.mark.timeout(60)
def test_bad_messages_go_to_dead_letter_and_ingest_goes_on(tmp_path, mosquitto, tills):
    till = tills("S001-T01")
    m1, m2 = ticket_messages(till, 2)
    invalid = msgspec.json.decode(m1)
    invalid["ticket"]["lines"] = "none"
    other = Till(tmp_path, "S001-T09")
    (other_message,) = ticket_messages(other, 1)
    other.close()
    ingestor = start_ingestor(tmp_path / "server.db", mosquitto.url)
    acks = Listener(mosquitto.port, topics.acks("S001-T01"))
    raw = RawPublisher(mosquitto.port)
    topic = topics.tickets("S001-T01")
    try:
        raw.publish(topic, b'{"schema": 1, "ticket": {')
        raw.publish(topic, msgspec.json.encode(invalid))
        raw.publish(topic, other_message)
        raw.publish(topic, b"{" + b" " * (2 * 1024 * 1024) + b"}")
        raw.publish(topic, m2)
        # The invalid ticket 1 is kept in dead-letter, so the valid ticket 2 completes the ack to 2.
        assert acks.wait_for(lambda ms: any(json.loads(p)["acked_to"] == 2 for _, p in ms))
    finally:
        raw.close()
        acks.close()
        ingestor.stop()
    store = Store(tmp_path / "server.db")
    reasons = [d["reason"] for d in store.dead_letters()]
    assert reasons == [
        "malformed JSON: Input data was truncated",
        "schema violation: Expected `array`, got `str` - at `$.ticket.lines`",
        "terminal mismatch: topic is for S001-T01 but the ticket says S001-T09",
        "payload of 2097154 bytes exceeds the limit of 262144 bytes",
    ]
    assert [d["size"] for d in store.dead_letters()][3] == 2097154
    assert store.ticket_count() == 1
    result = CliRunner().invoke(main, ["server", "stats", "--db", str(tmp_path / "server.db")])
    stats = json.loads(result.output)
    assert stats["dead_letters"] == 4 and stats["tickets"] == 1
    assert stats["terminals"]["S001-T01"]["contiguous_seq"] == 2


@pytest.mark.timeout(60)
def test_a_stale_ack_from_a_tills_earlier_life_deletes_nothing(tmp_path, mosquitto, tills):
    """A till replaced with a fresh journal under the same id gets the acks queued for the old one:
    they name messages it does not have, so it refuses them and sends everything."""
    old = tills("S001-T01", seed=1)
    ingestor = start_ingestor(tmp_path / "server.db", mosquitto.url)
    try:
        old.connect(mosquitto.url)
        old.sell(40)
        assert old.sender.wait_synced(30)
        old.close()
        raw = RawPublisher(mosquitto.port)
        stale = {"schema": 1, "terminal": "S001-T01", "acked_to": 40, "digest": "0" * 64, "at": "2026-11-23T00:00:00Z"}
        (tmp_path / "new").mkdir()
        new = Till(tmp_path / "new", "S001-T01", seed=2)
        new.sell(30)
        new.connect(mosquitto.url)
        raw.publish(topics.acks("S001-T01"), json.dumps(stale).encode())
        raw.close()
        # The server holds 1..40 from the old journal: the new till's 1..30 conflict and are kept aside.
        assert not new.sender.wait_synced(2)
        assert new.journal.backlog() == 30 and new.sender.refused_acks >= 1
    finally:
        ingestor.stop()
    new.close()
    reasons = [d["reason"] for d in Store(tmp_path / "server.db").dead_letters()]
    assert reasons and reasons[0] == (
        "conflicting duplicate: ticket S001-T01-00000001 was already stored with different content"
    )
    assert all(r.startswith("conflicting duplicate: ticket S001-T01-") for r in reasons)
