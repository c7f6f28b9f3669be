"""A provisioned till turns hostile among honest ones, on the hardened broker (issue 15, done-when).

Three honest tills sell 10,000 signed tickets while a fourth, with its own valid account and key,
sends 1,000 hostile messages: amounts past the bounds, desk entry kinds, other tills' ids, oversize
batches, points the rules do not give, unsigned tickets. Ingest never stops, every honest ticket is
stored once, and no point is credited from a hostile message.
"""

from __future__ import annotations

import random
import sqlite3
import threading
from collections import Counter
from datetime import timedelta

import msgspec
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from programme.cardnumber import make_card_number
from programme.signing import new_private_key, public_key_text, sign_ticket
from programme.ticket import GENESIS_HASH, Line, PointsEntry, Tender, Ticket, utc_now
from server.ingest.receive import Ingestor
from server.ingest.store import Store
from sync import topics
from sync.broker_config import SERVER_USER, read_password, write_broker_config
from sync.broker_url import parse_broker_url
from sync.codec import encode_batch, encode_ticket
from sync.mosquitto import Mosquitto, free_port, mosquitto_binary
from sync.sender import OutboxSender
from terminal.journal import Journal
from terminal.sale import sell
from terminal.simulate import Shopper

from ..fixtures.chain import wait_until
from ..fixtures.components import require

HONEST = ("S001-T01", "S001-T02", "S001-T03")
HOSTILE = "S001-T04"
GENUINE_TICKETS = 10_000
HOSTILE_MESSAGES = 1_000
# How many hostile messages of each kind (adds up to HOSTILE_MESSAGES).
KINDS = {
    "overflow": 200,
    "desk_kind": 200,
    "other_id": 200,
    "other_topic": 100,
    "minted": 150,
    "unsigned": 100,
    "seq_overflow": 40,
    "oversize_batch": 10,
}


@pytest.fixture
def hardened(reachable):
    require(mosquitto_binary() is not None, "mosquitto", "run `make setup` (apt-get install mosquitto)")
    port = free_port()
    made = write_broker_config(reachable / "broker", [*HONEST, HOSTILE], port=port)
    broker = Mosquitto(reachable / "broker" / "data", port=port, config_path=made.config_file).start()
    yield made
    broker.stop()


def url_of(made, user: str) -> str:
    return f"mqtts://{user}:{read_password(made.directory, user)}@127.0.0.1:{made.port}?ca={made.ca_file}"


def hostile_cards() -> list[str]:
    return [make_card_number(f"2999{n:08d}") for n in range(1, 41)]


class HostileTill:
    """The fourth till: its own account and registered key, and nothing honest to send."""

    def __init__(self, made, key):
        self.key = key
        self.seq = 0
        self.rng = random.Random(15)
        self.cards = hostile_cards()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="hostile-S001-T04")
        self.client.username_pw_set(HOSTILE, read_password(made.directory, HOSTILE))
        self.client.tls_set(ca_certs=str(made.ca_file))
        self.client.max_inflight_messages_set(100)
        self.client.connect("127.0.0.1", made.port)
        self.client.loop_start()

    def ticket(self, terminal: str = HOSTILE, lines=None, points=None, seq: int | None = None) -> Ticket:
        if seq is None:
            self.seq += 1
            seq = self.seq
        at = utc_now() - timedelta(seconds=1)
        lines = lines or [
            Line(
                gtin="3086126100015",
                label="cigarettes",
                category="tobacco",
                quantity=1,
                unit_cents=1150,
                total_cents=1150,
            )
        ]
        total = sum(line.total_cents for line in lines)
        return Ticket(
            id=f"{terminal}-{seq:08d}",
            terminal=terminal,
            seq=seq,
            store="S001",
            cashier="mallory",
            opened_at=at,
            closed_at=at,
            lines=lines,
            tenders=[Tender(kind="cash", cents=total)],
            total_cents=total,
            card=self.rng.choice(self.cards),
            points=points or [],
            rules_version="2026.1",
            prev_hash=GENESIS_HASH,
        )

    def message(self, kind: str) -> tuple[str, bytes]:
        own = topics.tickets(HOSTILE)
        if kind == "overflow":
            huge = Line(
                gtin="3086126100015",
                label="x",
                category="grocery",
                quantity=10**18,
                unit_cents=1000,
                total_cents=10**21,
            )
            return own, encode_ticket(sign_ticket(self.ticket(lines=[huge]), self.key))
        if kind == "desk_kind":
            forged = [PointsEntry(kind=self.rng.choice(["adjust", "transfer"]), rule="gift", points=1_000_000)]
            return own, encode_ticket(sign_ticket(self.ticket(points=forged), self.key))
        if kind == "other_id":  # another till's ticket on its own topic
            other = self.ticket(terminal=self.rng.choice(HONEST), seq=10**6 + self.rng.randrange(1000))
            return own, encode_ticket(other)
        if kind == "other_topic":  # another till's topic: the broker's ACL drops it
            victim = self.rng.choice(HONEST)
            return topics.tickets(victim), encode_ticket(self.ticket(terminal=victim, seq=10**6))
        if kind == "minted":  # a well-formed, signed ticket claiming points the rules do not give
            minted = [PointsEntry(kind="earn", rule="base", points=1_000_000, line=0)]
            return own, encode_ticket(sign_ticket(self.ticket(points=minted), self.key))
        if kind == "unsigned":
            return own, encode_ticket(self.ticket(points=[PointsEntry(kind="earn", rule="base", points=500, line=0)]))
        if kind == "seq_overflow":
            doc = msgspec.json.decode(encode_ticket(self.ticket(seq=1)))
            doc["ticket"]["seq"] = 2**70
            return own, msgspec.json.encode(doc)
        if kind == "oversize_batch":
            one = encode_ticket(
                sign_ticket(self.ticket(points=[PointsEntry(kind="earn", rule="base", points=10**6, line=0)]), self.key)
            )
            return own, encode_batch([one] * (1_100_000 // len(one) + 1))
        raise AssertionError(kind)

    def attack(self) -> None:
        plan = [kind for kind, count in KINDS.items() for _ in range(count)]
        self.rng.shuffle(plan)
        for kind in plan:
            topic, payload = self.message(kind)
            self.client.publish(topic, payload, qos=1).wait_for_publish(30)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def journal_points(path) -> Counter:
    conn = sqlite3.connect(path)
    try:
        found = Counter()
        for card, earned, redeemed in conn.execute(
            "SELECT card, points_earned, points_redeemed FROM tickets WHERE card IS NOT NULL"
        ):
            found[card] += earned - redeemed
        return found
    finally:
        conn.close()


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_hostile_till_among_three_honest_ones_stops_nothing_and_mints_nothing(tmp_path, hardened):
    assert sum(KINDS.values()) == HOSTILE_MESSAGES
    keys = {terminal: new_private_key() for terminal in (*HONEST, HOSTILE)}
    server_db = tmp_path / "server.db"
    setup = Store(server_db)
    for terminal, key in keys.items():
        setup.register_till(terminal, public_key_text(key), utc_now().isoformat())
    setup.close()
    ingestor = Ingestor(str(server_db), parse_broker_url(url_of(hardened, SERVER_USER)), require_registered=True)
    ingestor.start()
    assert ingestor.wait_connected(10)
    # The honest tills sell offline first (fast), then all sync at once while the hostile one attacks.
    journals, sold = {}, Counter()
    for n, terminal in enumerate(HONEST):
        journal = journals[terminal] = Journal(tmp_path / f"{terminal}.db", terminal, signing_key=keys[terminal])
        shopper = Shopper(seed=n)
        share = GENUINE_TICKETS // len(HONEST) + (1 if n < GENUINE_TICKETS % len(HONEST) else 0)
        for _ in range(share):
            sell(journal, *shopper.basket(max_lines=6))
        sold[terminal] = share
    assert not set(hostile_cards()) & {
        c
        for j in journals.values()
        for (c,) in j.conn.execute("SELECT DISTINCT card FROM tickets WHERE card IS NOT NULL")
    }
    hostile = HostileTill(hardened, keys[HOSTILE])
    senders = [OutboxSender(journals[t].path, t, parse_broker_url(url_of(hardened, t))).start() for t in HONEST]
    attack = threading.Thread(target=hostile.attack)
    attack.start()
    try:
        attack.join(300)
        assert not attack.is_alive(), "the hostile till could not send its messages"
        for sender in senders:
            assert sender.wait_synced(300), "an honest till was not acked whole"
        expected_dead = sum(KINDS[k] for k in ("overflow", "desk_kind", "other_id", "seq_overflow", "oversize_batch"))
        check = sqlite3.connect(server_db)
        wait_until(
            lambda: (
                check.execute("SELECT count(*) FROM dead_letters").fetchone()[0] >= expected_dead
                and check.execute("SELECT count(*) FROM quarantine").fetchone()[0] >= KINDS["unsigned"]
            ),
            60,
            "every hostile message to be set aside",
        )
        assert ingestor.error is None and ingestor._thread.is_alive()
    finally:
        for sender in senders:
            sender.stop()
        hostile.close()
        ingestor.stop()
        for journal in journals.values():
            journal.close()
    # Every honest ticket stored once.
    stored = dict(
        check.execute(
            "SELECT terminal, count(*) FROM tickets WHERE terminal != ? GROUP BY terminal", (HOSTILE,)
        ).fetchall()
    )
    assert stored == dict(sold)
    assert (
        check.execute("SELECT count(DISTINCT id) FROM tickets").fetchone()[0]
        == check.execute("SELECT count(*) FROM tickets").fetchone()[0]
    )
    # No point credited from a hostile message: its cards hold nothing, the honest cards exactly their tickets'.
    cards = hostile_cards()
    credited = check.execute(
        f"SELECT coalesce(sum(points), 0) FROM ledger WHERE card IN ({','.join('?' * len(cards))})", cards
    ).fetchone()[0]
    assert credited == 0
    honest = Counter()
    for terminal in HONEST:
        honest.update(journal_points(tmp_path / f"{terminal}.db"))
    # Honest tills selling offline never heard the cards' tiers: head office credits the tier it knows (issue 20),
    # each such ticket a discrepancy where the rules give more (a tier only adds); nothing else differs.
    tiers = Counter()
    for card, till_points, server_points, reason in check.execute(
        "SELECT card, till_points, server_points, reason FROM discrepancies WHERE ticket_id NOT LIKE ?",
        (f"{HOSTILE}-%",),
    ):
        assert server_points > till_points, reason
        tiers[card] += server_points - till_points
    server = dict(check.execute("SELECT card, points FROM card_points WHERE points != 0").fetchall())
    assert server == {card: points + tiers[card] for card, points in honest.items() if points + tiers[card]}
    # Each hostile kind landed where it belongs: dead letters, quarantine, discrepancies; the broker dropped the rest.
    assert check.execute("SELECT count(*) FROM quarantine").fetchone()[0] == KINDS["unsigned"]
    assert check.execute("SELECT count(*) FROM tickets WHERE terminal = ?", (HOSTILE,)).fetchone()[0] == KINDS["minted"]
    assert (
        check.execute("SELECT count(*) FROM discrepancies WHERE ticket_id LIKE ?", (f"{HOSTILE}-%",)).fetchone()[0]
        == KINDS["minted"]
    )
    dead = [reason for (reason,) in check.execute("SELECT reason FROM dead_letters")]
    assert Counter(reason.split(":")[0].split(" of ")[0] for reason in dead) == {
        "schema violation": KINDS["overflow"] + KINDS["seq_overflow"],
        "invalid ticket": KINDS["desk_kind"],
        "terminal mismatch": KINDS["other_id"],
        "batch": KINDS["oversize_batch"],
    }
    assert {r for r in dead if r.startswith("schema")} == {
        "schema violation: Expected `int` <= 99999 - at `$.ticket.lines[0].quantity`",
        "schema violation: Expected `int` <= 9007199254740992 - at `$.ticket.seq`",
    }
    assert all(
        r.endswith("a till sends only earn, redeem and reverse entries") for r in dead if r.startswith("invalid")
    )
    assert all(r.endswith("exceeds the limit of 1048576 bytes") for r in dead if r.startswith("batch"))
    check.close()
