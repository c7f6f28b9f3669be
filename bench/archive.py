"""The archive and DuckDB (issue 17: ranks + RFM <= 2 s at 10 M tickets / 1 M customers; the export measured).

Generates a year of tickets with `loyalty generate`'s library into SQLite, builds the aggregates, then times:
- the export of every ticket, line and ledger entry to the Parquet archive (tickets/s, lines/s, its size), and
  a second run with nothing new (what the scheduled job costs between tickets);
- value ranks + RFM over the year: today's aggregates path (value.customer_values on card_day, then deciles,
  value ranks, RFM scores in Python) and DuckDB over the archive (server.analytics.archive_value.figures: the
  same figures, one SQL definition, the card -> customer map read from the database included);
- baselines, same run: a raw DuckDB scan of the archive (`SELECT card, sum(total_cents) FROM tickets GROUP BY
  card`) and the same raw scan on SQLite.
Default 10 k customers / 100 k tickets; --quick 2 k / 20 k; LOYALTY_BENCH_ARCHIVE_SCALE=N multiplies both
(N=10: the issue's 1 M tickets / 100 k customers, about 10 minutes here).
"""
from __future__ import annotations

import os
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from rich.progress import Progress

from .common import summary_ms, table


def _timed(fn, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        out.append(time.perf_counter() - started)
    return out


def _size_mb(path: Path) -> float:
    return round(sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6, 1)


def run(quick: bool = False) -> dict:
    from server.analytics import aggregate, archive, rfm, value
    from server.analytics.archive_db import open_archive
    from server.analytics.archive_value import figures
    from server.analytics.generate import Plan, generate
    from server.deskdb import open_db

    scale = int(os.environ.get("LOYALTY_BENCH_ARCHIVE_SCALE", "1"))
    customers, tickets = (2_000, 20_000) if quick else (10_000 * scale, 100_000 * scale)
    end = date(2026, 6, 30)
    start = end - timedelta(days=364)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "server.db"
        conn = open_db(path)
        conn.execute("PRAGMA synchronous=OFF")
        with Progress(transient=True) as progress:
            task = progress.add_task("generating", total=tickets)
            generate(conn, Plan(customers, tickets, 20, seed=1, end=end), lambda n: progress.update(task, completed=n))
        aggregate.refresh(conn)
        lines = conn.execute("SELECT count(*) FROM lines").fetchone()[0]
        folder = Path(tmp) / "server.archive"
        started = time.perf_counter()
        exported = archive.export(conn, folder)
        export_s = time.perf_counter() - started
        noop = _timed(lambda: archive.export(conn, folder), 3)

        def aggregates_path():
            values = value.customer_values(conn, start, end)
            value.value_ranks(values)
            value.deciles(values)
            rfm.rfm_scores(values)

        def duckdb_path():
            figures(folder, start, end, value.card_owners(conn))

        aggregates_path()  # warm both (page cache, imports) before timing
        duckdb_path()
        on_aggregates = _timed(aggregates_path, 3)
        on_duckdb = _timed(duckdb_path, 3)
        db = open_archive(folder)
        raw_duckdb = _timed(lambda: db.execute("SELECT card, sum(total_cents) FROM tickets GROUP BY card").fetchall(), 3)
        db.close()
        raw_sqlite = _timed(lambda: conn.execute("SELECT card, sum(total_cents) FROM tickets GROUP BY card").fetchall(),
                            3)
        conn.close()
        db_mb, archive_mb = round(path.stat().st_size / 1e6), _size_mb(folder)
    return {"customers": customers, "tickets": tickets, "lines": lines, "ledger": exported["ledger"],
            "batches": exported["batches"], "db_mb": db_mb, "archive_mb": archive_mb,
            "export_s": round(export_s, 1), "export_tickets_per_s": round(tickets / export_s),
            "export_lines_per_s": round(lines / export_s), "export_nothing_new": summary_ms(noop),
            "ranks_rfm_aggregates": summary_ms(on_aggregates), "ranks_rfm_duckdb": summary_ms(on_duckdb),
            "raw_scan_duckdb": summary_ms(raw_duckdb), "raw_scan_sqlite": summary_ms(raw_sqlite)}


def markdown(r: dict) -> str:
    speedup = r["ranks_rfm_aggregates"]["p50_ms"] / max(r["ranks_rfm_duckdb"]["p50_ms"], 1e-9)
    rows = [
        ("value ranks + RFM over the year: aggregates path (card_day, Python)", r["ranks_rfm_aggregates"]["p50_ms"],
         "today's path"),
        ("value ranks + RFM over the year: DuckDB over the archive (same figures)", r["ranks_rfm_duckdb"]["p50_ms"],
         f"{speedup:.1f} times as fast as the aggregates path; target at 10 M tickets: <= 2 s"),
        ("baseline: raw DuckDB scan of the archive, `GROUP BY card`", r["raw_scan_duckdb"]["p50_ms"], ""),
        ("baseline: raw SQLite scan of the tickets, `GROUP BY card`", r["raw_scan_sqlite"]["p50_ms"], ""),
        ("export, nothing new (the job between tickets)", r["export_nothing_new"]["p50_ms"], ""),
    ]
    return (f"## archive\n\nThe Parquet archive and DuckDB on {r['customers']:,} customers and {r['tickets']:,} "
            f"tickets over a year ({r['lines']:,} lines, {r['ledger']:,} ledger entries; {r['db_mb']:,} MB SQLite, "
            f"{r['archive_mb']:,} MB of Parquet). Export of everything: {r['export_s']} s, "
            f"{r['export_tickets_per_s']:,} tickets/s ({r['export_lines_per_s']:,} lines/s) in {r['batches']} "
            "batches.\n\n" + table(rows, ("measure", "p50 ms", "note")) + "\n")


if __name__ == "__main__":
    import sys

    print(markdown(run(quick="--quick" in sys.argv)))
