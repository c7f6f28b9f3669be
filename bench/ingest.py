"""End-to-end ingest: till outbox to server commit and ack, against same-run baselines.

Baselines measured in the same run, on the same payloads:
- raw paho + Mosquitto, QoS 1: one publisher, one subscriber, no application work;
- raw batched SQLite inserts: the same ticket and line rows, 500 tickets a transaction, no validation.
The server runs as its own process (`loyalty server`), as in production; the till's sync worker runs here.
"""
from __future__ import annotations

import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from rich.progress import Progress

from server.store import SCHEMA
from sync import topics
from sync.broker_url import parse_broker_url
from sync.codec import decode_ticket
from sync.mosquitto import Mosquitto
from sync.sender import OutboxSender
from terminal.journal import Journal
from terminal.sale import sell
from terminal.simulate import Shopper

from .common import table

TERMINAL = "S001-T01"


def make_tickets(workdir: Path, count: int, max_lines: int = 13) -> tuple[str, list[bytes]]:
    """A till journal with `count` tickets in its outbox (about 2 KB each); returns its path and payloads."""
    db = workdir / "till.db"
    shopper = Shopper(seed=7)
    with Journal(db, TERMINAL) as journal, Progress(transient=True) as progress:
        task = progress.add_task("filling the till's outbox", total=count)
        for _ in range(count):
            sell(journal, *shopper.basket(max_lines=max_lines))
            progress.advance(task)
        payloads = [p for (p,) in journal.conn.execute("SELECT payload FROM outbox ORDER BY seq")]
    return str(db), payloads


def raw_mqtt(broker: Mosquitto, payloads: list[bytes]) -> float:
    """Messages/s from first publish to last delivery, QoS 1, 100 in flight."""
    done = threading.Event()
    received = 0

    def on_message(client, userdata, message):
        nonlocal received
        received += 1
        if received == len(payloads):
            done.set()

    subscribed = threading.Event()
    sub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-sub")
    sub.on_message = on_message
    sub.on_subscribe = lambda *a: subscribed.set()
    sub.connect(broker.host, broker.port)
    sub.subscribe("bench/raw", qos=1)
    sub.loop_start()
    subscribed.wait(10)
    pub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-pub")
    pub.max_inflight_messages_set(100)
    pub.connect(broker.host, broker.port)
    pub.loop_start()
    started = time.perf_counter()
    for payload in payloads:
        pub.publish("bench/raw", payload, qos=1)
    done.wait(300)
    elapsed = time.perf_counter() - started
    for client in (pub, sub):
        client.disconnect()
        client.loop_stop()
    return len(payloads) / elapsed


def raw_sqlite(workdir: Path, payloads: list[bytes]) -> float:
    """Tickets/s inserting the same ticket and line rows, 500 a transaction (WAL, synchronous=NORMAL)."""
    tickets = [decode_ticket(p) for p in payloads]
    conn = sqlite3.connect(workdir / "raw.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.executescript(SCHEMA)
    started = time.perf_counter()
    for start in range(0, len(tickets), 500):
        conn.execute("BEGIN")
        chunk = list(zip(tickets[start:start + 500], payloads[start:start + 500]))
        conn.executemany("INSERT INTO tickets VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", [
            (t.id, t.terminal, t.seq, t.store, t.cashier, t.closed_at.isoformat(), t.card, t.total_cents,
             t.points_earned, t.points_redeemed, t.rules_version, "h", t.prev_hash, "now", p) for t, p in chunk])
        conn.executemany("INSERT INTO lines VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", [
            (t.id, n, li.gtin, li.label, li.category, li.quantity, li.unit_cents, li.discount_cents, li.total_cents)
            for t, _ in chunk for n, li in enumerate(t.lines)])
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    return len(tickets) / elapsed


def end_to_end(broker: Mosquitto, workdir: Path, till_db: str, count: int) -> tuple[float, float]:
    """Tickets/s from the sync worker's start until the server has acked all (server as a process)."""
    server_db = workdir / "server.db"
    proc = None
    try:
        # Open the server's persistent session first, so nothing published before it subscribes is lost.
        subscribed = threading.Event()
        session = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="loyalty-server-ingest", clean_session=False)
        session.username_pw_set("loyalty-server-ingest")
        session.on_subscribe = lambda *a: subscribed.set()
        session.connect(broker.host, broker.port)
        session.subscribe(topics.TICKETS_SUBSCRIPTION, qos=1)
        session.loop_start()
        subscribed.wait(10)
        session.disconnect()
        session.loop_stop()
        proc = subprocess.Popen([sys.executable, "-m", "loyalty", "server", "--db", str(server_db),
                                 "--broker", broker.url], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        sender = OutboxSender(till_db, TERMINAL, parse_broker_url(broker.url))
        started = time.perf_counter()
        sender.start()
        ok = sender.wait_synced(600)
        elapsed = time.perf_counter() - started
        sender.stop()
        if not ok:
            raise RuntimeError(f"end-to-end run did not finish: {sender.status}")
        stored = sqlite3.connect(server_db).execute("SELECT count(*) FROM tickets").fetchone()[0]
        assert stored == count, f"stored {stored} of {count}"
    finally:
        if proc:
            proc.terminate()
            proc.wait(10)
    return count / elapsed, elapsed


def run(quick: bool = False) -> dict:
    count = 5_000 if quick else 20_000
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        workdir = Path(tmp)
        till_db, payloads = make_tickets(workdir, count)
        size = sum(map(len, payloads)) // len(payloads)
        with Mosquitto(workdir / "mosquitto") as broker:
            mqtt_rate = raw_mqtt(broker, payloads)
            sqlite_rate = raw_sqlite(workdir, payloads)
            e2e_rate, seconds = end_to_end(broker, workdir, till_db, count)
    slower = min(mqtt_rate, sqlite_rate)
    return {"tickets": count, "payload_bytes": size, "raw_mqtt_per_s": round(mqtt_rate),
            "raw_sqlite_per_s": round(sqlite_rate), "end_to_end_per_s": round(e2e_rate),
            "end_to_end_seconds": round(seconds, 2), "share_of_slower_baseline": round(e2e_rate / slower, 2)}


def markdown(result: dict) -> str:
    rows = [
        ("raw paho + Mosquitto, QoS 1 (baseline)", f"{result['raw_mqtt_per_s']:,}/s", ""),
        ("raw batched SQLite inserts, 500/transaction (baseline)", f"{result['raw_sqlite_per_s']:,}/s", ""),
        ("end to end: till outbox -> server commit -> ack", f"{result['end_to_end_per_s']:,}/s",
         f"{result['share_of_slower_baseline']:.0%} of the slower baseline (target >= 70%)"),
    ]
    return (f"## Ingest ({result['tickets']:,} tickets of about {result['payload_bytes']:,} bytes)\n\n"
            + table(rows, ("path", "tickets per second", "note")) + "\n")


if __name__ == "__main__":
    print(markdown(run("--quick" in sys.argv)))
