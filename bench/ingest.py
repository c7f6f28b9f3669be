"""End-to-end ingest: till outbox to server commit and ack, against same-run baselines.

Baselines measured in the same run, on the same payloads:
- raw paho + Mosquitto, QoS 1: one publisher, one subscriber, no application work;
- raw batched SQLite inserts: the same ticket and line rows, 500 tickets a transaction, no validation.
The server runs as its own process (`loyalty server`), as in production; the till's sync worker runs here.
"""

from __future__ import annotations

import msgspec
import contextlib
import os
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

from server.storage.ticket_schema import SQLITE_SCHEMA as SCHEMA
from sync import topics
from sync.broker_url import parse_broker_url
from sync.codec import decode_ticket
from sync.mosquitto import Mosquitto
from sync.sender import OutboxSender
from terminal.journal import Journal
from terminal.sale import sell
from terminal.simulate import Shopper

from .common import summary_ms, table

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
        chunk = list(zip(tickets[start : start + 500], payloads[start : start + 500]))
        conn.executemany(
            "INSERT INTO tickets VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    t.id,
                    t.terminal,
                    t.seq,
                    t.store,
                    t.cashier,
                    t.closed_at.isoformat(),
                    t.card,
                    t.total_cents,
                    t.points_earned,
                    t.points_redeemed,
                    t.rules_version,
                    "h",
                    t.prev_hash,
                    "now",
                    p,
                )
                for t, p in chunk
            ],
        )
        conn.executemany(
            "INSERT INTO lines VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    t.id,
                    n,
                    li.gtin,
                    li.label,
                    li.category,
                    li.quantity,
                    li.unit_cents,
                    li.discount_cents,
                    li.total_cents,
                    None if li.vat_rate is msgspec.UNSET else li.vat_rate,
                )
                for t, _ in chunk
                for n, li in enumerate(t.lines)
            ],
        )
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    return len(tickets) / elapsed


@contextlib.contextmanager
def server_process(broker: Mosquitto, server_db: Path, workers: int = 1):
    """`loyalty server` as its own process, its MQTT session(s) opened first so nothing published is lost."""
    shared = workers > 1
    for n in range(workers):
        client_id = "loyalty-server-ingest" + (f"-{n}" if shared else "")
        subscription = f"$share/ingest/{topics.TICKETS_SUBSCRIPTION}" if shared else topics.TICKETS_SUBSCRIPTION
        subscribed = threading.Event()
        session = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False)
        session.username_pw_set(client_id)
        session.on_subscribe = lambda *a, ev=subscribed: ev.set()
        session.connect(broker.host, broker.port)
        session.subscribe(subscription, qos=1)
        session.loop_start()
        subscribed.wait(10)
        session.disconnect()
        session.loop_stop()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "loyalty",
            "server",
            "--db",
            str(server_db),
            "--broker",
            broker.url,
            "--workers",
            str(workers),
            "--allow-unregistered-tills",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        # The clock starts once every worker runs (each says "server ingesting ..."): a long-running
        # service's start-up (about 1 s of imports) is not ingest time. Then stderr is drained.
        started = 0
        while started < workers:
            line = proc.stderr.readline()
            if not line:
                raise RuntimeError(f"the server exited with code {proc.wait()} before it started")
            started += line.startswith(b"server ingesting")
        threading.Thread(target=proc.stderr.read, daemon=True).start()
        yield proc
    finally:
        proc.terminate()
        proc.wait(20)


def sync_all(broker: Mosquitto, tills: list[tuple[str, str]], expected: int, server_db: Path) -> float:
    """Seconds from the sync workers' start until the server has acked every till's outbox."""
    senders = [OutboxSender(db, terminal, parse_broker_url(broker.url)) for db, terminal in tills]
    started = time.perf_counter()
    for sender in senders:
        sender.start()
    ok = all(sender.wait_synced(900) for sender in senders)
    elapsed = time.perf_counter() - started
    for sender in senders:
        sender.stop()
    if not ok:
        raise RuntimeError("a sync did not finish: " + ", ".join(str(s.status) for s in senders))
    stored = sqlite3.connect(server_db).execute("SELECT count(*) FROM tickets").fetchone()[0]
    assert stored == expected, f"stored {stored} of {expected}"
    return elapsed


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far (Linux /proc; its children not counted)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def end_to_end(
    broker: Mosquitto, workdir: Path, till_db: str, count: int, workers: int = 1, cpu: dict | None = None
) -> tuple[float, float]:
    """Tickets/s from the sync worker's start until the server has acked all (server as a process).

    `cpu`, when given, receives the CPU time per ticket of each process (us): unlike the rate, it
    hardly depends on what else the machine runs.
    """
    server_db = workdir / f"server-{workers}w-{count}.db"
    with server_process(broker, server_db, workers) as proc:
        pids = {"server": proc.pid, "mosquitto": broker.proc.pid}
        before = {name: cpu_seconds(pid) for name, pid in pids.items()}
        ours = time.process_time()
        elapsed = sync_all(broker, [(till_db, TERMINAL)], count, server_db)
        if cpu is not None:
            cpu["till_sync_worker_us"] = round((time.process_time() - ours) * 1e6 / count)
            cpu.update(
                {f"{name}_us": round((cpu_seconds(pid) - before[name]) * 1e6 / count) for name, pid in pids.items()}
            )
    return count / elapsed, elapsed


def fill_tills(workdir: Path, tills: int, per_till: int) -> list[tuple[str, str]]:
    made = []
    shopper = Shopper(seed=11)
    with Progress(transient=True) as progress:
        task = progress.add_task(f"filling {tills} tills", total=tills * per_till)
        for n in range(tills):
            terminal = f"S{n // 10 + 1:03d}-T{n % 10 + 1:02d}"
            db = workdir / f"fleet-{tills}-{terminal}.db"
            with Journal(db, terminal) as journal:
                for _ in range(per_till):
                    sell(journal, *shopper.basket(max_lines=13))
                    progress.advance(task)
            made.append((str(db), terminal))
    return made


def live_latency(broker: Mosquitto, workdir: Path, tills: int, rate: float, seconds: float) -> dict:
    """Tills selling live at `rate` tickets/s in all: time from a ticket's close to the ack that covers it."""
    server_db = workdir / f"latency-{tills}.db"
    terminals = [f"S{n // 10 + 1:03d}-T{n % 10 + 1:02d}" for n in range(tills)]
    acked: dict[str, list[tuple[int, float]]] = {t: [] for t in terminals}
    lock = threading.Lock()

    def on_ack(client, userdata, message):
        from sync.codec import decode_ack

        ack = decode_ack(message.payload)
        with lock:
            acked[ack.terminal].append((ack.acked_to, time.perf_counter()))

    listener = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-acks")
    listener.on_message = on_ack
    subscribed = threading.Event()
    listener.on_subscribe = lambda *a: subscribed.set()
    listener.connect(broker.host, broker.port)
    listener.subscribe("loyalty/v1/down/+/acks", qos=1)
    listener.loop_start()
    subscribed.wait(10)
    # One process plays every till: a journal is opened for each sale only, to stay well below the
    # 1,024 file descriptors that paho's select() can watch (a real till is a process of its own).
    paths = {t: str(workdir / f"live-{tills}-{t}.db") for t in terminals}
    for terminal, path in paths.items():
        Journal(path, terminal).close()
    closed: dict[str, list[float]] = {t: [] for t in terminals}
    shopper = Shopper(seed=3)
    with server_process(broker, server_db):
        senders = [OutboxSender(paths[t], t, parse_broker_url(broker.url)).start() for t in terminals]
        interval, count = 1 / rate, int(rate * seconds)
        started = time.perf_counter()
        for n in range(count):
            wait = started + n * interval - time.perf_counter()
            if wait > 0:
                time.sleep(wait)  # pacing the sales is the point here, not waiting for a result
            terminal = terminals[n % tills]
            with Journal(paths[terminal], terminal) as journal:
                sell(journal, *shopper.basket(max_lines=13))
            closed[terminal].append(time.perf_counter())
            senders[n % tills].wake()
        assert all(s.wait_synced(120) for s in senders)
        time.sleep(0.2)  # let the listener see the last acks
        for sender in senders:
            sender.stop()
    listener.disconnect()
    listener.loop_stop()
    latencies = []
    for terminal in terminals:
        acks = sorted(acked[terminal], key=lambda a: a[1])
        for seq, closed_at in enumerate(closed[terminal], start=1):
            first = next((t for upto, t in acks if upto >= seq), None)
            if first is not None:
                latencies.append(first - closed_at)
    return {"tills": tills, "tickets": count, "live_rate": rate, **summary_ms(latencies)}


def run(quick: bool = False) -> dict:
    """Each phase gets a broker of its own: no session or queued message of one phase reaches the next."""
    count = 5_000 if quick else 20_000
    load = os.getloadavg()[0]
    catch_up = 10_000 if quick else 50_000
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        workdir = Path(tmp)

        def fresh_broker(name: str) -> Mosquitto:
            return Mosquitto(workdir / f"mosquitto-{name}")

        till_db, payloads = make_tickets(workdir, count)
        size = sum(map(len, payloads)) // len(payloads)
        second_copy = str(workdir / "till-copy.db")  # the same outbox again, for the two-worker run
        with sqlite3.connect(till_db) as source, sqlite3.connect(second_copy) as target:
            source.backup(target)
        with fresh_broker("raw") as broker:
            mqtt_rate = raw_mqtt(broker, payloads)
        sqlite_rate = raw_sqlite(workdir, payloads)
        cpu: dict = {}
        with fresh_broker("e2e") as broker:
            e2e_rate, seconds = end_to_end(broker, workdir, till_db, count, cpu=cpu)
        with fresh_broker("two-workers") as broker:
            two_rate, _ = end_to_end(broker, workdir, second_copy, count, workers=2)
        (workdir / "day").mkdir()
        day_db, _ = make_tickets(workdir / "day", catch_up)
        with fresh_broker("day") as broker:
            _, day_seconds = end_to_end(broker, workdir, day_db, catch_up)
        fleet = {}
        for tills in (1, 10, 100):
            per_till = (count // 2) // tills
            made = fill_tills(workdir, tills, per_till)
            server_db = workdir / f"fleet-{tills}.db"
            with fresh_broker(f"fleet-{tills}") as broker:
                with server_process(broker, server_db):
                    elapsed = sync_all(broker, made, per_till * tills, server_db)
            with fresh_broker(f"live-{tills}") as broker:
                latency = live_latency(broker, workdir, tills, rate=100 if quick else 200, seconds=5 if quick else 10)
            fleet[tills] = {"rate": round(per_till * tills / elapsed), **latency}
    slower = min(mqtt_rate, sqlite_rate)
    return {
        "tickets": count,
        "payload_bytes": size,
        "raw_mqtt_per_s": round(mqtt_rate),
        "raw_sqlite_per_s": round(sqlite_rate),
        "end_to_end_per_s": round(e2e_rate),
        "end_to_end_seconds": round(seconds, 2),
        "share_of_slower_baseline": round(e2e_rate / slower, 2),
        "two_workers_per_s": round(two_rate),
        "catch_up_tickets": catch_up,
        "catch_up_seconds": round(day_seconds, 1),
        "fleet": fleet,
        "cpu_per_ticket": cpu,
        "load_at_start": round(load, 2),
    }


def cpu_note(result: dict) -> str:
    cpu = result.get("cpu_per_ticket")
    if not cpu:
        return ""
    return (
        "CPU time per ticket in the end-to-end run, 1 worker (nearly independent of the machine's other load, "
        f"which was {result['load_at_start']} at the start): server {cpu['server_us']} us, till sync worker "
        f"{cpu['till_sync_worker_us']} us, Mosquitto {cpu['mosquitto_us']} us.\n\n"
    )


def markdown(result: dict) -> str:
    rows = [
        ("raw paho + Mosquitto, QoS 1 (baseline)", f"{result['raw_mqtt_per_s']:,}/s", ""),
        ("raw batched SQLite inserts, 500/transaction (baseline)", f"{result['raw_sqlite_per_s']:,}/s", ""),
        (
            "end to end: till outbox -> server commit -> ack, 1 worker",
            f"{result['end_to_end_per_s']:,}/s",
            f"{result['share_of_slower_baseline']:.0%} of the slower baseline (target >= 70%)",
        ),
        (
            "the same with 2 ingest workers (shared subscription)",
            f"{result['two_workers_per_s']:,}/s",
            "both write one SQLite file",
        ),
        (
            f"catch-up of a till offline for a day ({result['catch_up_tickets']:,} tickets)",
            f"{result['catch_up_seconds']} s",
            "target <= 15 s",
        ),
    ]
    fleet = [
        (tills, f"{f['rate']:,}/s", f"{f['tickets']:,} at {f['live_rate']}/s", f["p50_ms"], f["p99_ms"])
        for tills, f in result["fleet"].items()
    ]
    return (
        f"## Ingest ({result['tickets']:,} tickets of about {result['payload_bytes']:,} bytes)\n\n"
        + table(rows, ("path", "result", "note"))
        + "\n\n"
        + cpu_note(result)
        + "### How cost grows with the number of tills\n\n"
        "Catch-up rate: the same number of tickets spread over N tills' outboxes, all syncing at once. "
        "Latency: tills selling live, from a ticket's close to the server's ack that covers it.\n\n"
        + table(fleet, ("tills", "catch-up rate", "live tickets", "latency p50 ms", "latency p99 ms"))
        + "\n"
    )


if __name__ == "__main__":
    print(markdown(run("--quick" in sys.argv)))
