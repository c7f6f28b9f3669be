"""The server's store on PostgreSQL beside SQLite: Store.ingest of ~2 KB tickets in batches of 500.

Both stores get the same decoded tickets in the same run; the SQLite store is the baseline. PostgreSQL
is a throwaway cluster from Debian's package (server.storage.pg_local) with its default, durable settings.
Selling 20,000 tickets at one till takes longer than the whole budget, so 1,000 real ones are sold
and copied to 20 tills (each copy renumbered and re-chained), interleaved as tills sync.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import msgspec
from rich.progress import Progress

from programme.ticket import GENESIS_HASH, store_of, ticket_hash, ticket_id

from server.ingest.receive import classify
from server.storage.pg_local import LocalPostgres
from server.ingest.store_api import open_store
from sync import topics
from sync.codec import decode_ticket, encode_ticket

from .common import summary_ms, table
from .ingest import TERMINAL, make_tickets

BATCH = 500
TILLS = 20
NOW = "2026-11-23T12:00:00+00:00"


def ingest_all(target: str, tickets: list, label: str) -> dict:
    """Batches of BATCH through open_store(target).ingest; the rate over the whole run, per-batch latency."""
    store = open_store(target)
    samples = []
    try:
        with Progress(transient=True) as progress:
            task = progress.add_task(f"ingest into {label}", total=len(tickets))
            started = time.perf_counter()
            for start in range(0, len(tickets), BATCH):
                chunk = tickets[start : start + BATCH]
                t0 = time.perf_counter()
                result = store.ingest(chunk, [], NOW)
                samples.append(time.perf_counter() - t0)
                assert result.stored == len(chunk), f"{label}: {result}"
                progress.advance(task, len(chunk))
            seconds = time.perf_counter() - started
        assert store.ticket_count() == len(tickets)
    finally:
        store.close()
    return {"per_s": round(len(tickets) / seconds), "seconds": round(seconds, 2), "batch": summary_ms(samples)}


def copied_to_tills(payloads: list[bytes], tills: int) -> list[tuple[str, bytes]]:
    """The sold tickets as if every till had sold them: renumbered, re-chained, interleaved by sequence."""
    sold = [decode_ticket(p, TERMINAL) for p in payloads]
    per_till = []
    for n in range(1, tills + 1):
        terminal, prev, messages = f"S{n:03d}-T01", GENESIS_HASH, []
        for ticket in sold:
            copy = msgspec.structs.replace(
                ticket,
                id=ticket_id(terminal, ticket.seq),
                terminal=terminal,
                store=store_of(terminal),
                prev_hash=prev,
                signature=None,
            )
            prev = ticket_hash(copy)
            messages.append((topics.tickets(terminal), encode_ticket(copy)))
        per_till.append(messages)
    return [message for row in zip(*per_till) for message in row]


def run(quick: bool = False) -> dict:
    count = 5_000 if quick else 20_000
    with tempfile.TemporaryDirectory(prefix="bench-store-pg-") as tmp:
        workdir = Path(tmp)
        _, sold = make_tickets(workdir, count // TILLS)
        messages = copied_to_tills(sold, TILLS)
        payloads = [p for _, p in messages]
        tickets, dead = classify(messages)
        assert not dead and len(tickets) == count
        sqlite = ingest_all(str(workdir / "server.db"), tickets, "SQLite")
        with LocalPostgres() as pg:
            postgres = ingest_all(pg.create_database("bench"), tickets, "PostgreSQL")
            version = pg.bin_dir.parts[-2]
    return {
        "tickets": count,
        "tills": TILLS,
        "batch": BATCH,
        "payload_bytes": sum(map(len, payloads)) // count,
        "postgresql_version": version,
        "sqlite": sqlite,
        "postgresql": postgres,
        "postgresql_vs_sqlite": round(postgres["per_s"] / sqlite["per_s"], 2),
    }


def markdown(result: dict) -> str:
    rows = [
        (
            f"{name}{' (baseline)' if key == 'sqlite' else ''}",
            f"{result[key]['per_s']:,}/s",
            result[key]["batch"]["p50_ms"],
            result[key]["batch"]["p99_ms"],
        )
        for key, name in (
            ("sqlite", "SQLite store (WAL, synchronous=NORMAL)"),
            ("postgresql", f"PostgreSQL {result['postgresql_version']} store (partitioned, default durable settings)"),
        )
    ]
    return (
        f"## Store on PostgreSQL ({result['tickets']:,} tickets of about {result['payload_bytes']:,} bytes from "
        f"{result['tills']} tills, "
        f"Store.ingest in batches of {result['batch']})\n\n"
        + table(rows, ("store", "tickets per second", "batch p50 ms", "batch p99 ms"))
        + f"\n\nPostgreSQL ingests at {result['postgresql_vs_sqlite']:.0%} of the SQLite rate in the same run.\n"
    )


if __name__ == "__main__":
    print(markdown(run("--quick" in sys.argv)))
