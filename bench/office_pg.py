"""Head office's figures on PostgreSQL beside SQLite, on the same generated tickets in the same run.

`loyalty generate`'s tickets (skewed customers, stores, a year) are decoded and ingested in batches
of 500 into three fresh stores, batch by batch in turn so they share the machine's noise: SQLite
(the baseline), PostgreSQL, and PostgreSQL with the aggregates' trigger installed before the first
ticket (what it costs ingest). Then, on SQLite and on that PostgreSQL: the full fold into the
aggregates, the value dashboard's figures for the year, the explorer's first page, one ticket's page
and a count; the figures must be the same on both. PostgreSQL is a throwaway cluster from Debian's
package (server.storage.pg_local) with its default, durable settings.
"""

from __future__ import annotations

import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from rich.progress import Progress

from server.analytics import aggregate, dashboard, explorer
from server.analytics.generate import Plan, generate
from server.storage.connection import open_connection
from server.storage.desk_db import open_db
from server.storage.pg_local import LocalPostgres
from server.ingest.store_api import open_store
from sync import topics
from sync.codec import decode_ticket

BATCH = 500
NOW = "2026-07-01T00:00:00+00:00"


def _timed(call) -> tuple[object, float]:
    t0 = time.perf_counter()
    result = call()
    return result, time.perf_counter() - t0


def _ingest(targets: dict[str, str], messages: list) -> dict[str, int]:
    """Every batch into each store in turn; tickets per second of each."""
    stores = {name: open_store(target) for name, target in targets.items()}
    spent = dict.fromkeys(stores, 0.0)
    try:
        with Progress(transient=True) as progress:
            task = progress.add_task("ingest into SQLite and PostgreSQL", total=len(messages))
            for start in range(0, len(messages), BATCH):
                batch = messages[start : start + BATCH]
                for name, store in stores.items():
                    result, seconds = _timed(lambda: store.ingest(batch, [], NOW))
                    assert result.stored == len(batch), f"{name}: {result}"
                    spent[name] += seconds
                progress.advance(task, len(batch))
    finally:
        for store in stores.values():
            store.close()
    return {name: round(len(messages) / seconds) for name, seconds in spent.items()}


def _office(target: str) -> dict:
    conn = open_db(target)
    try:
        _, fold = _timed(lambda: aggregate.refresh(conn))
        start, end = dashboard.default_period(conn)
        body, compute = _timed(lambda: dashboard.compute(conn, start, end))
        page, first = _timed(lambda: explorer.search(conn, explorer.TicketFilter()))
        _, detail = _timed(lambda: explorer.detail(conn, page[len(page) // 2]["id"]))
        _, count = _timed(lambda: explorer.count(conn, explorer.TicketFilter(store="S002")))
    finally:
        conn.close()
    return {
        "fold_s": round(fold, 2),
        "dashboard_s": round(compute, 3),
        "explorer_ms": round(first * 1000, 1),
        "ticket_ms": round(detail * 1000, 1),
        "count_ms": round(count * 1000, 1),
        "figures": [body["customers"], body["spend_cents"], body["points"]["outstanding"], [r["id"] for r in page]],
    }


def run(quick: bool = False) -> dict:
    count = 3_000 if quick else 25_000
    with tempfile.TemporaryDirectory(prefix="bench-office-pg-") as tmp:
        generated = str(Path(tmp) / "generated.db")
        conn = open_db(generated)
        generate(conn, Plan(count // 10, count, 5, seed=3, end=date(2026, 6, 30)))
        payloads = conn.execute("SELECT terminal, payload FROM tickets ORDER BY terminal, seq").fetchall()
        conn.close()
        messages = [
            (topics.tickets(terminal), decode_ticket(payload, terminal), payload) for terminal, payload in payloads
        ]
        with LocalPostgres() as pg:
            targets = {
                "sqlite": str(Path(tmp) / "server.db"),
                "postgresql": pg.create_database("plain"),
                "postgresql_trigger": pg.create_database("office"),
            }
            plain = open_connection(targets["postgresql"])  # the migrations install the trigger: this one without
            plain.execute("DROP TRIGGER tickets_aggregate_pending ON tickets")
            plain.close()
            rates = _ingest(targets, messages)
            sqlite, postgres = _office(targets["sqlite"]), _office(targets["postgresql_trigger"])
            version = pg.bin_dir.parts[-2]
    same = sqlite.pop("figures") == postgres.pop("figures")
    assert same, "PostgreSQL's figures differ from SQLite's"
    return {
        "tickets": count,
        "postgresql_version": version,
        "ingest_per_s": rates,
        "sqlite": sqlite,
        "postgresql": postgres,
        "same_figures": same,
    }


def markdown(result: dict) -> str:
    rates = result["ingest_per_s"]
    rows = [
        ("ingest, tickets per second", f"{rates['sqlite']:,}", f"{rates['postgresql_trigger']:,}"),
        *[
            (label, result["sqlite"][key], result["postgresql"][key])
            for key, label in (
                ("fold_s", "full fold into the aggregates, s"),
                ("dashboard_s", "value dashboard's figures, s"),
                ("explorer_ms", "explorer's first page, ms"),
                ("ticket_ms", "one ticket's page, ms"),
                ("count_ms", "explorer count (one store), ms"),
            )
        ],
    ]
    from .common import table

    return (
        f"## Head office on PostgreSQL ({result['tickets']:,} generated tickets over a year)\n\n"
        + table(rows, ("measure", "SQLite (baseline)", f"PostgreSQL {result['postgresql_version']}"))
        + f"\n\nThe same figures on both engines: {'yes' if result['same_figures'] else 'NO'}. "
        f"The aggregates' trigger on PostgreSQL's tickets: ingest at {rates['postgresql_trigger']:,}/s "
        f"with it against {rates['postgresql']:,}/s without, in the same run.\n"
    )


if __name__ == "__main__":
    print(markdown(run("--quick" in sys.argv)))
