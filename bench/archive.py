"""The archive and DuckDB (issue 17: ranks + RFM <= 2 s at 10 M tickets / 1 M customers; the export measured).

Generates a year of tickets with `loyalty generate`'s library into SQLite, builds the aggregates, then times:
- the export of every ticket, line and ledger entry to the Parquet archive (tickets/s, lines/s, its size), and
  a second run with nothing new (what the scheduled job costs between tickets);
- value ranks + RFM over the year: today's aggregates path (value.customer_values on card_day, then deciles,
  value ranks, RFM scores in Python) and DuckDB over the archive (server.analytics.archive_value.figures: the
  same figures, one SQL definition, the card -> customer map read from the database included);
- the export from PostgreSQL (when Debian's PostgreSQL is installed): the last month's tickets, lines and
  ledger entries copied into a throwaway cluster (server.pg_local, COPY), then the first export, which also
  installs the archive's triggers and notes the tickets already stored;
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
    from server.storage.desk_db import open_db

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
        scan = "SELECT card, sum(total_cents) FROM tickets GROUP BY card"
        raw_duckdb = _timed(lambda: db.execute(scan).fetchall(), 3)
        db.close()
        raw_sqlite = _timed(lambda: conn.execute(scan).fetchall(), 3)
        postgres = _postgres_export(conn, end.replace(day=1), Path(tmp))
        conn.close()
        db_mb, archive_mb = round(path.stat().st_size / 1e6), _size_mb(folder)
    return {
        "postgres": postgres,
        "customers": customers,
        "tickets": tickets,
        "lines": lines,
        "ledger": exported["ledger"],
        "batches": exported["batches"],
        "db_mb": db_mb,
        "archive_mb": archive_mb,
        "export_s": round(export_s, 1),
        "export_tickets_per_s": round(tickets / export_s),
        "export_lines_per_s": round(lines / export_s),
        "export_nothing_new": summary_ms(noop),
        "ranks_rfm_aggregates": summary_ms(on_aggregates),
        "ranks_rfm_duckdb": summary_ms(on_duckdb),
        "raw_scan_duckdb": summary_ms(raw_duckdb),
        "raw_scan_sqlite": summary_ms(raw_sqlite),
    }


def _copy(raw, table: str, columns: str, rows) -> None:
    with raw.cursor() as cursor, cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def _postgres_export(conn, since: date, tmp: Path) -> dict | None:
    """The tickets closed from `since` on, copied into PostgreSQL, then exported to an archive of their own."""
    from server.analytics import archive
    from server.storage.connection import open_connection
    from server.storage.pg_local import LocalPostgres, can_run
    from server.ingest.store_pg import partition_ddl

    if not can_run():
        return None
    first = since.isoformat()
    server = LocalPostgres(durable=False).start()
    try:
        pg = open_connection(server.create_database("bench_archive"))
        months = [
            m
            for (m,) in conn.execute(
                "SELECT DISTINCT substr(closed_at, 1, 7) FROM tickets WHERE closed_at >= ?", (first,)
            )
        ]
        for month in months:
            pg.execute(partition_ddl(int(month[:4]), int(month[5:])))
        columns = (
            "id, terminal, seq, store, cashier, closed_at, card, total_cents, points_earned, points_redeemed, "
            "rules_version, hash, prev_hash, received_at, payload"
        )
        _copy(pg.raw, "tickets", columns, conn.execute(f"SELECT {columns} FROM tickets WHERE closed_at >= ?", (first,)))
        _copy(
            pg.raw,
            "lines",
            archive.LINE_COLUMNS,
            conn.execute(
                f"SELECT {', '.join('l.' + c for c in archive.LINE_COLUMNS.split(', '))} FROM tickets t "
                "JOIN lines l ON l.ticket_id = t.id WHERE t.closed_at >= ?",
                (first,),
            ),
        )
        _copy(
            pg.raw,
            "ledger",
            "card, kind, points, rule, cause, ticket_id, at",
            conn.execute("SELECT card, kind, points, rule, cause, ticket_id, at FROM ledger WHERE at >= ?", (first,)),
        )
        started = time.perf_counter()
        exported = archive.export(pg, tmp / "postgres.archive")
        seconds = time.perf_counter() - started
        pg.close()
    finally:
        server.remove()
    return {
        "tickets": exported["tickets"],
        "lines": exported["lines"],
        "ledger": exported["ledger"],
        "export_s": round(seconds, 1),
        "tickets_per_s": round(exported["tickets"] / seconds),
        "lines_per_s": round(exported["lines"] / seconds),
    }


def markdown(r: dict) -> str:
    speedup = r["ranks_rfm_aggregates"]["p50_ms"] / max(r["ranks_rfm_duckdb"]["p50_ms"], 1e-9)
    rows = [
        (
            "value ranks + RFM over the year: aggregates path (card_day, Python)",
            r["ranks_rfm_aggregates"]["p50_ms"],
            "today's path",
        ),
        (
            "value ranks + RFM over the year: DuckDB over the archive (same figures)",
            r["ranks_rfm_duckdb"]["p50_ms"],
            f"{speedup:.1f} times as fast as the aggregates path; target at 10 M tickets: <= 2 s",
        ),
        ("baseline: raw DuckDB scan of the archive, `GROUP BY card`", r["raw_scan_duckdb"]["p50_ms"], ""),
        ("baseline: raw SQLite scan of the tickets, `GROUP BY card`", r["raw_scan_sqlite"]["p50_ms"], ""),
        ("export, nothing new (the job between tickets)", r["export_nothing_new"]["p50_ms"], ""),
    ]
    return (
        f"## archive\n\nThe Parquet archive and DuckDB on {r['customers']:,} customers and {r['tickets']:,} "
        f"tickets over a year ({r['lines']:,} lines, {r['ledger']:,} ledger entries; {r['db_mb']:,} MB SQLite, "
        f"{r['archive_mb']:,} MB of Parquet). Export of everything: {r['export_s']} s, "
        f"{r['export_tickets_per_s']:,} tickets/s ({r['export_lines_per_s']:,} lines/s) in {r['batches']} batch(es)"
        "." + _postgres_text(r["postgres"]) + "\n\n" + table(rows, ("measure", "p50 ms", "note")) + "\n"
    )


def _postgres_text(p: dict | None) -> str:
    if p is None:
        return " PostgreSQL is not installed here: its export was not measured."
    return (
        f" From PostgreSQL (the last month: {p['tickets']:,} tickets, {p['lines']:,} lines, {p['ledger']:,} ledger "
        f"entries; triggers installed and stored tickets noted in the same run): {p['export_s']} s, "
        f"{p['tickets_per_s']:,} tickets/s ({p['lines_per_s']:,} lines/s)."
    )


def postgres_day(tickets: int = 4_000_000, day: date = date(2026, 6, 30)) -> dict:
    """A national day (`tickets` tickets, about 10 lines each, their ledger entries) generated by DuckDB, COPYed into a
    throwaway PostgreSQL (server.pg_local), then exported to an archive of its own: the export measured."""
    import duckdb

    from server.analytics import archive
    from server.storage.connection import open_connection
    from server.storage.pg_local import LocalPostgres, can_run
    from server.ingest.store_pg import partition_ddl

    from .archive_scale import CATEGORIES, card_sql

    if not can_run():
        raise SystemExit("PostgreSQL is not installed here (apt-get install postgresql)")
    categories = "[" + ", ".join(f"'{c}'" for c in CATEGORIES) + "]"
    with tempfile.TemporaryDirectory(dir=os.environ.get("LOYALTY_BENCH_DIR")) as tmp:
        files = {name: Path(tmp) / f"{name}.csv" for name in ("tickets", "lines", "ledger")}
        started = time.perf_counter()
        db = duckdb.connect(config={"threads": 2, "memory_limit": "8GB", "temp_directory": str(Path(tmp) / "spill")})
        db.execute("SET TimeZone = 'UTC'")
        db.execute("SET enable_progress_bar = false")
        db.execute(f"""CREATE TEMP TABLE t AS SELECT n, 'D' || lpad(CAST(n AS VARCHAR), 10, '0') AS id,
            'S' || lpad(CAST(1 + n % 2800 AS VARCHAR), 4, '0') AS store,
            TIMESTAMPTZ '{day.isoformat()} 00:00:00+00'
              + to_seconds(CAST(hash(n * 11 + 2) % 86400 AS BIGINT)) AS closed_at,
            CASE WHEN hash(n * 11 + 3) % 100 < 80 THEN {card_sql("1 + hash(n * 11 + 4) % 10000000")} END AS card,
            CAST(1 + hash(n * 11 + 5) % 19 AS BIGINT) AS lines_n FROM range({tickets}) r(n)""")
        db.execute(f"""CREATE TEMP TABLE l AS SELECT n, id, CAST(i + 1 AS INTEGER) AS line_no,
            {categories}[CAST(1 + hash(n * 31 + i) % {len(CATEGORIES)} AS BIGINT)] AS category,
            CAST(1 + hash(n * 37 + i) % 2 AS BIGINT) AS quantity, CAST(60 + hash(n * 41 + i) % 900 AS BIGINT) AS unit
            FROM (SELECT n, id, unnest(range(lines_n)) AS i FROM t)""")
        db.execute(f"""COPY (SELECT id, line_no, '3' || lpad(CAST(hash(n * 43 + line_no) % 100000 AS VARCHAR), 12, '0'),
            category, category, quantity, unit, 0, quantity * unit FROM l) TO '{files["lines"]}' (HEADER false)""")
        db.execute(f"""COPY (SELECT id, store || '-T01', n, store, 'c1', strftime(closed_at, '%Y-%m-%d %H:%M:%S+00'),
            card, s.total, CASE WHEN card IS NULL THEN 0 ELSE s.total // 100 END, 0, 'base-1', md5(id),
            md5(id || 'p'), strftime(closed_at, '%Y-%m-%dT%H:%M:%S+00:00'), '\\x7b7d'
            FROM t JOIN (SELECT n, sum(quantity * unit) AS total FROM l GROUP BY n) s USING (n))
            TO '{files["tickets"]}' (HEADER false)""")
        db.execute(f"""COPY (SELECT t.card, 'earn', s.total // 100, 'base', 'ticket:' || t.id, t.id,
            strftime(t.closed_at, '%Y-%m-%d %H:%M:%S+00') FROM t JOIN (SELECT n, sum(quantity * unit) AS total FROM l
            GROUP BY n) s USING (n) WHERE t.card IS NOT NULL AND s.total >= 100)
            TO '{files["ledger"]}' (HEADER false)""")
        lines = db.execute("SELECT count(*) FROM l").fetchone()[0]
        db.close()
        generated = time.perf_counter() - started
        server = LocalPostgres(durable=False).start()
        try:
            pg = open_connection(server.create_database("bench_day"))
            pg.execute(partition_ddl(day.year, day.month))
            started = time.perf_counter()
            columns = {
                "tickets": "id, terminal, seq, store, cashier, closed_at, card, total_cents, points_earned, "
                "points_redeemed, rules_version, hash, prev_hash, received_at, payload",
                "lines": archive.LINE_COLUMNS,
                "ledger": "card, kind, points, rule, cause, ticket_id, at",
            }
            for name, path in files.items():
                with (
                    pg.raw.cursor() as cursor,
                    cursor.copy(f"COPY {name} ({columns[name]}) FROM STDIN WITH (FORMAT csv)") as copy,
                    open(path, "rb") as f,
                ):
                    while block := f.read(1 << 20):
                        copy.write(block)
                pg.raw.commit()
            pg.raw.execute("ANALYZE")  # as autovacuum would after a day's ingest: plans for tables of this size
            pg.raw.commit()
            loaded = time.perf_counter() - started
            with Progress(transient=True) as progress:
                task = progress.add_task("exporting the day", total=tickets)
                started = time.perf_counter()
                exported = archive.export(
                    pg, Path(tmp) / "day.archive", lambda done, total: progress.update(task, completed=done)
                )
                seconds = time.perf_counter() - started
            pg.close()
        finally:
            server.remove()
    return {
        "tickets": exported["tickets"],
        "lines": exported["lines"],
        "ledger": exported["ledger"],
        "generated_s": round(generated, 1),
        "copied_s": round(loaded, 1),
        "generated_lines": lines,
        "export_s": round(seconds, 1),
        "tickets_per_s": round(exported["tickets"] / seconds),
        "lines_per_s": round(exported["lines"] / seconds),
    }


if __name__ == "__main__":
    import json
    import sys

    if "--pg-day" in sys.argv:  # python -m bench.archive --pg-day 4000000: a national day exported from PostgreSQL
        print(json.dumps(postgres_day(int(sys.argv[sys.argv.index("--pg-day") + 1]))))
    else:
        print(markdown(run(quick="--quick" in sys.argv)))
