"""Head office at national scale: an archive of 10 M or 100 M tickets generated straight to Parquet, and the figures.

`python -m bench archive_scale` (LOYALTY_BENCH_SCALE=10000000 by default; 100000000 for the 100 M run, which
skips the aggregates baseline: filling SQLite that large takes hours). Customers are a tenth of the tickets.
LOYALTY_BENCH_BUDGET_S stops the generation after the month that passes it (the figures then run on the
months written); LOYALTY_BENCH_DIR is where the archive is written (about 160 bytes a ticket);
LOYALTY_BENCH_ARCHIVE=DIR keeps it there, and a later run measures it again without generating it;
LOYALTY_BENCH_AGGREGATES=0 skips the aggregates baseline (DuckDB only); LOYALTY_BENCH_MEASURE=0 only generates
(with LOYALTY_BENCH_ARCHIVE, for a later run to measure).

The store is far too slow to fill at this size (1 M tickets through it take minutes), so DuckDB writes the
archive's files itself, month by month, in the export's layout and schema (tickets, lines, ledger,
`_archive.json`): a year of tickets over 20 stores, 1-19 lines each (about 10), 80% on a card (a skewed
spend: few customers buy a lot), 85% of cards belonging to a desk customer, an earn entry per identified
ticket and a 500-point redeem entry on one in twenty; each ticket's margin_cents and, after each month, the
month's roll-ups (server.analytics.rollups.write_month, as the export writes them). The aggregates baseline
(card_day, store_day, the ledger and the desk's cards in SQLite, what `aggregate.refresh` would have built) is
filled from the archive. Then, in the same run:
- ranks + RFM: the aggregates path (value.customer_values, value_ranks, deciles, rfm_scores in Python),
  DuckDB with the results handed to Python as today's structures (archive_value.figures), and DuckDB
  alone (every customer's decile, value rank and RFM scores computed and counted in the engine);
- the value dashboard's figures: the aggregates path (dashboard.compute) and DuckDB (figures.value_dashboard,
  what the page reads), checked equal;
- baselines: the same two DuckDB figures with every month's roll-ups read from the raw files (the same
  definitions, no roll-up file: what the figures cost without them), checked equal; a raw DuckDB scan of the
  tickets (`SELECT card, sum(total_cents) ... GROUP BY card`) and of the lines (margin per card).
The load average (1 minute) is sampled between the measures and printed with them.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

STORES = 20
END = date(2026, 6, 30)
CATEGORIES = [
    "fresh",
    "grocery",
    "dairy",
    "drinks",
    "hygiene",
    "household",
    "baby",
    "alcohol",
    "tobacco",
    "fuel",
    "textile",
    "electronics",
    "fresh",
    "grocery",
]  # fresh and grocery twice: the usual baskets
REGISTERED_PER_CENT = 85


def _months(end: date) -> list[tuple[date, int]]:
    """(first day, days) of the 12 months ending with `end`'s month."""
    out, first = [], end.replace(day=1)
    for _ in range(12):
        nxt = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
        out.append((first, (nxt - first).days))
        first = (first - timedelta(days=1)).replace(day=1)
    return out[::-1]


def card_sql(index: str) -> str:
    return f"'29' || lpad(CAST({index} AS VARCHAR), 11, '0')"


def generate(folder: Path, tickets: int, customers: int, progress=None, budget_s: float | None = None) -> dict:
    """Write an archive of `tickets` tickets over the year ending END, month by month; returns counts. With a
    budget, stop after the month that passes it (the months written are a part of that year: counts say so)."""
    import duckdb

    from server.analytics import rollups
    from server.analytics.archive import FORMAT, MANIFEST, TABLES
    from server.analytics.engines import DuckDb
    from server.analytics.figures import _floor_thousandths, per_mille

    e = DuckDb.__new__(DuckDb)  # only its SQL spellings

    folder.mkdir(mode=0o700, parents=True)
    db = duckdb.connect(
        config={
            "threads": 2,
            "memory_limit": "10GB",
            "temp_directory": str(folder.parent / "tmp"),
            "preserve_insertion_order": False,
        }
    )
    db.execute("SET TimeZone = 'UTC'")
    db.execute("SET enable_progress_bar = false")
    months = _months(END)
    per_month = tickets // len(months)
    counts = {"tickets": 0, "lines": 0, "ledger": 0}
    categories = "[" + ", ".join(f"'{c}'" for c in CATEGORIES) + "]"
    ledger_id = 0
    started = time.perf_counter()
    counts["months"] = 0
    for number, (first, days) in enumerate(months, start=1):
        if budget_s is not None and time.perf_counter() - started > budget_s:
            break
        count = per_month if number < len(months) else tickets - per_month * (len(months) - 1)
        start_n = per_month * (number - 1)
        db.execute(f"""
            CREATE OR REPLACE TEMP TABLE t AS
            SELECT n, 'G' || lpad(CAST(n AS VARCHAR), 10, '0') AS id,
                   'S' || lpad(CAST(1 + hash(n * 11 + 1) % {STORES} AS VARCHAR), 3, '0') AS store,
                   TIMESTAMPTZ '{first.isoformat()} 00:00:00+00'
                     + to_seconds(CAST(hash(n * 11 + 2) % {days * 86400} AS BIGINT)) AS closed_at,
                   CASE WHEN hash(n * 11 + 3) % 100 < 80 THEN {
            card_sql(f"CAST(floor({customers} * pow((hash(n * 11 + 4) % 1000000000) / 1e9, 1.6)) AS BIGINT) + 1")
        }
                   END AS card,
                   CAST(1 + hash(n * 11 + 5) % 19 AS BIGINT) AS lines_n,
                   hash(n * 11 + 6) % 20 = 0 AS redeems
            FROM range({start_n}, {start_n + count}) r(n)""")
        db.execute(f"""
            CREATE OR REPLACE TEMP TABLE l AS
            SELECT n, id, store, card, CAST(closed_at AS DATE) AS day, CAST(i + 1 AS INTEGER) AS line_no,
                   {categories}[CAST(1 + hash(n * 31 + i) % {len(CATEGORIES)} AS BIGINT)] AS category,
                   CAST(1 + hash(n * 37 + i) % 2 AS BIGINT) AS quantity,
                   CAST(60 + hash(n * 41 + i) % 900 AS BIGINT) AS unit_cents
            FROM (SELECT n, id, store, card, closed_at, unnest(range(lines_n)) AS i FROM t)""")
        month = f"{first:%Y-%m}"
        name = f"batch-{number:08d}.parquet"
        for table in TABLES:
            (folder / table / f"month={month}").mkdir(mode=0o700, parents=True)
        copy = "(FORMAT parquet, COMPRESSION zstd)"
        db.execute(f"""COPY (SELECT id AS ticket_id, line_no, '3' || lpad(CAST(hash(n * 43 + line_no) % 100000 AS
                    VARCHAR), 12, '0') AS gtin, category AS label, category, quantity, unit_cents,
                    CAST(0 AS BIGINT) AS discount_cents, quantity * unit_cents AS total_cents, store, card, day
                    FROM l) TO '{folder}/lines/month={month}/{name}' {copy}""")
        db.execute(f"""CREATE OR REPLACE TEMP TABLE tt AS
            SELECT t.*, s.total_cents, s.margin_cents,
                   CASE WHEN card IS NULL THEN 0 ELSE s.total_cents // 100 END AS points_earned,
                   CASE WHEN card IS NOT NULL AND redeems THEN 500 ELSE 0 END AS points_redeemed
            FROM t JOIN (SELECT n, sum(quantity * unit_cents) AS total_cents,
                                sum({_floor_thousandths(e, f"quantity * unit_cents * {per_mille('category')}")})
                                  AS margin_cents FROM l GROUP BY n) s USING (n)""")
        db.execute(f"""COPY (SELECT id, 'S' || substr(store, 2) || '-T01' AS terminal, n AS seq, store,
                    'c1' AS cashier, closed_at, CAST(closed_at AS DATE) AS day, card, CAST(total_cents AS BIGINT)
                    AS total_cents, CAST(margin_cents AS BIGINT) AS margin_cents,
                    CAST(points_earned AS BIGINT) AS points_earned, CAST(points_redeemed AS BIGINT)
                    AS points_redeemed, 'base-1' AS rules_version, md5(id) AS hash, md5(id || 'p') AS prev_hash,
                    closed_at AS received_at FROM tt) TO '{folder}/tickets/month={month}/{name}' {copy}""")
        db.execute(f"""COPY (SELECT CAST({ledger_id} + row_number() OVER () AS BIGINT) AS id, card, kind, points,
                    rule, 'ticket:' || id || ':' || kind AS cause, id AS ticket_id, closed_at AS at,
                    CAST(NULL AS TIMESTAMPTZ) AS lot_at FROM (
                      SELECT card, 'earn' AS kind, CAST(points_earned AS BIGINT) AS points, 'base' AS rule, id,
                             closed_at FROM tt WHERE points_earned > 0
                      UNION ALL
                      SELECT card, 'redeem', CAST(-points_redeemed AS BIGINT), 'redeem', id, closed_at FROM tt
                      WHERE points_redeemed > 0))
                    TO '{folder}/ledger/month={month}/{name}' {copy}""")
        rollups.write_month(folder, month, db)
        ledger_n = db.execute(f"SELECT count(*) FROM '{folder}/ledger/month={month}/{name}'").fetchone()[0]
        lines_n = db.execute("SELECT count(*) FROM l").fetchone()[0]
        ledger_id += ledger_n
        counts["tickets"] += count
        counts["lines"] += lines_n
        counts["ledger"] += ledger_n
        counts["months"] += 1
        if progress:
            progress(counts["tickets"])
    db.close()
    for path in folder.rglob("*.parquet"):
        path.chmod(0o600)
    (folder / MANIFEST).write_text(
        json.dumps(
            {
                "format": FORMAT,
                "id": "generated",
                "tables": list(TABLES),
                "rollups": list(rollups.ROLLUPS),
                "partitioning": "month=YYYY-MM",
            }
        )
    )
    return counts


def owners_of(customers: int) -> dict[str, int]:
    """The desk's cards: customer n holds card n when n % 100 < 85."""
    return {f"29{n:011d}": n for n in range(1, customers + 1) if n % 100 < REGISTERED_PER_CENT}


def fill_aggregates(folder: Path, db_path: Path, owners: dict[str, int]) -> None:
    """What aggregate.refresh and the desk would hold for these tickets: card_day, store_day, the ledger, cards
    (not card_category, which only the segments read)."""
    from server.analytics.engines import DuckDb
    from server.analytics.figures import _floor_thousandths, prepare
    from server.storage.desk_db import open_db

    import sqlite3

    with sqlite3.connect(db_path) as plain:  # the store's ledger without its write-side indexes (UNIQUE cause,
        plain.execute(
            "CREATE TABLE ledger (id INTEGER PRIMARY KEY, card TEXT NOT NULL, kind TEXT NOT NULL, "
            "points INTEGER NOT NULL, rule TEXT NOT NULL, cause TEXT NOT NULL, ticket_id TEXT, "
            "at TEXT NOT NULL, lot_at TEXT)"
        )  # by card): points_summary scans it NOT INDEXED anyway
    conn = open_db(db_path)
    conn.execute("DROP INDEX IF EXISTS ledger_card")
    conn.execute("PRAGMA synchronous=OFF")
    with DuckDb(folder) as e:
        prepare(e, owners)
        margin = _floor_thousandths(e, "l.total_cents * coalesce(r.per_mille, 240)")
        queries = {
            "card_day": f"""SELECT t.card, CAST(t.day AS VARCHAR), t.store, t.spend, coalesce(m.margin, 0), t.tickets,
                            t.points, t.redeemed FROM (
                              SELECT card, day, store, sum(total_cents) AS spend, count(*) AS tickets,
                                     sum(points_earned) AS points, sum(points_redeemed) AS redeemed
                              FROM tickets WHERE card IS NOT NULL GROUP BY ALL) t LEFT JOIN (
                              SELECT l.card, l.day, l.store, sum({margin}) AS margin
                              FROM lines l LEFT JOIN margin_rates r ON r.category = l.category
                              WHERE l.card IS NOT NULL GROUP BY ALL) m
                            ON m.card = t.card AND m.day = t.day AND m.store = t.store ORDER BY 1, 2, 3""",
            "store_day": """SELECT store, CAST(day AS VARCHAR), sum(total_cents), count(*),
                            sum(CASE WHEN card IS NOT NULL THEN total_cents ELSE 0 END), count(card)
                            FROM tickets GROUP BY ALL ORDER BY 1, 2""",
            "ledger (id, card, kind, points, rule, cause, ticket_id, at)": """
                            SELECT g.id, g.card, g.kind, g.points, g.rule, g.cause, g.ticket_id,
                                   strftime(g.at, '%Y-%m-%dT%H:%M:%S+00:00') FROM ledger g ORDER BY g.id""",
        }
        for table, sql in queries.items():
            started = time.perf_counter()
            cursor = e.db.execute(sql)
            width = len(cursor.description)
            marks = ", ".join("?" * width)
            while rows := cursor.fetchmany(200_000):
                with conn:
                    conn.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)
            print(f"filled {table.split()[0]} in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    issued = "2025-01-01T00:00:00+00:00"
    with conn:
        conn.executemany(
            "INSERT INTO customers (id, name, created_at, updated_at) VALUES (?, ?, ?, ?)",
            ((n, f"Customer {n}", issued, issued) for n in owners.values()),
        )
        conn.executemany(
            "INSERT INTO cards (number, customer_id, status, issued_at, status_at) VALUES (?, ?, 'active', ?, ?)",
            ((c, n, issued, issued) for c, n in owners.items()),
        )
        conn.execute("INSERT INTO aggregate_state VALUES ('tickets', 0)")
    conn.execute("ANALYZE")
    conn.close()


def _timed(fn, repeat: int = 1) -> tuple[float, object]:
    best, result = None, None
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        took = time.perf_counter() - started
        best = took if best is None else min(best, took)
    return round(best, 2), result


def run(quick: bool = False) -> dict:
    from server.analytics import dashboard, rfm, value
    from server.analytics.archive_value import figures as duckdb_figures
    from server.analytics.engines import DuckDb
    from server.analytics.figures import customers_sql, prepare, value_dashboard

    tickets = 200_000 if quick else int(os.environ.get("LOYALTY_BENCH_SCALE", "10000000"))
    customers = tickets // 10
    with_aggregates = tickets <= 20_000_000 and os.environ.get("LOYALTY_BENCH_AGGREGATES", "1") != "0"
    start, end = END - timedelta(days=364), END
    point = value.point_value_cents()
    result: dict = {"year_tickets": tickets, "customers": customers}
    kept = os.environ.get("LOYALTY_BENCH_ARCHIVE")  # an archive generated before (its counts in generated.json)
    with tempfile.TemporaryDirectory(dir=os.environ.get("LOYALTY_BENCH_DIR")) as tmp:
        folder = Path(kept) if kept else Path(tmp) / "office.archive"
        if kept and (folder / "generated.json").exists():
            counts = json.loads((folder / "generated.json").read_text())
            result["generate_s"] = counts.pop("generate_s")
        else:
            columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
            with Progress(*columns, transient=True) as progress:
                task = progress.add_task("generating the archive", total=tickets)
                budget = os.environ.get("LOYALTY_BENCH_BUDGET_S")
                result["generate_s"], counts = _timed(
                    lambda: generate(
                        folder,
                        tickets,
                        customers,
                        lambda n: progress.update(task, completed=n),
                        float(budget) if budget else None,
                    )
                )
            if kept:
                (folder / "generated.json").write_text(json.dumps({**counts, "generate_s": result["generate_s"]}))
            if os.environ.get("LOYALTY_BENCH_MEASURE", "1") == "0":  # generate only (measured by a later run)
                return {**result, **counts}
        result.update(counts)
        result["archive_mb"] = round(sum(p.stat().st_size for p in folder.rglob("*.parquet")) / 1e6)
        owners = owners_of(customers)

        def ranks_rfm_python():
            return duckdb_figures(folder, start, end, owners)

        def ranks_rfm_engine(use_rollups: bool = True):
            with DuckDb(folder, use_rollups) as e:
                prepare(e, owners)
                return sorted(
                    e.rows(
                        f"SELECT value_rank, r, f, m, count(*) FROM ({customers_sql(e, start, end, point)}) c "
                        "GROUP BY ALL"
                    )
                )

        def dashboard_duckdb(use_rollups: bool = True):
            with DuckDb(folder, use_rollups) as e:
                prepare(e, owners)
                return value_dashboard(e, start, end, point)

        load = [os.getloadavg()[0]]
        result["ranks_rfm_duckdb_engine_s"], counted = _timed(ranks_rfm_engine, 3)
        load.append(os.getloadavg()[0])
        result["dashboard_duckdb_s"], board = _timed(dashboard_duckdb, 3)
        load.append(os.getloadavg()[0])
        # the same-run baseline without the roll-ups: the same definitions over every month's raw files
        # past 20 M tickets: the raw scans run once, the figures without roll-ups and the hand-over of every
        # customer to Python not at all (minutes, and most of the machine's memory at 100 M)
        big = tickets > 20_000_000
        if not big:
            result["ranks_rfm_raw_s"], counted_raw = _timed(lambda: ranks_rfm_engine(False), 1)
            load.append(os.getloadavg()[0])
            result["dashboard_raw_s"], board_raw = _timed(lambda: dashboard_duckdb(False), 1)
            load.append(os.getloadavg()[0])
            result["same_without_rollups"] = counted == counted_raw and board == board_raw
            del board_raw
        with DuckDb(folder) as e:
            result["raw_scan_tickets_s"], _ = _timed(
                lambda: e.rows("SELECT card, sum(total_cents) FROM tickets GROUP BY card"), 1 if big else 3
            )
            result["raw_scan_lines_s"], _ = _timed(
                lambda: e.rows("SELECT card, sum(total_cents * 250 // 1000) FROM lines GROUP BY card"), 1 if big else 3
            )
        load.append(os.getloadavg()[0])
        if not big:
            result["ranks_rfm_duckdb_python_s"], by_duckdb = _timed(ranks_rfm_python, 1 if tickets > 2_000_000 else 2)
        load.append(os.getloadavg()[0])
        result["load_average"] = f"{min(load):.1f}-{max(load):.1f}"
        result["customers_found"] = board["customers"]
        if with_aggregates:
            db_path = Path(tmp) / "server.db"
            result["fill_aggregates_s"], _ = _timed(lambda: fill_aggregates(folder, db_path, owners))
            result["db_mb"] = round(db_path.stat().st_size / 1e6)
            from server.storage.desk_db import open_db

            conn = open_db(db_path)

            def ranks_rfm_aggregates():
                values = value.customer_values(conn, start, end)
                return values, value.value_ranks(values), value.deciles(values), rfm.rfm_scores(values)

            result["ranks_rfm_aggregates_s"], (values, ranks, groups, scores) = _timed(ranks_rfm_aggregates)
            result["same_ranks_rfm"] = (
                by_duckdb.values == values
                and by_duckdb.ranks == ranks
                and by_duckdb.deciles == groups
                and by_duckdb.rfm == scores
            )
            del values, ranks, groups, scores
            result["dashboard_aggregates_s"], expected = _timed(lambda: dashboard.compute(conn, start, end))
            del expected["enrolments"]
            result["same_dashboard"] = expected == board
            conn.close()
    return result


def markdown(r: dict) -> str:
    rows = [
        ("generate the archive straight to Parquet (DuckDB)", r["generate_s"], ""),
        (
            "ranks + RFM: DuckDB, computed and counted in the engine",
            r["ranks_rfm_duckdb_engine_s"],
            "target <= 2 s at 10 M",
        ),
        (
            "ranks + RFM: DuckDB, handed to Python as today's structures (archive_value.figures)",
            r.get("ranks_rfm_duckdb_python_s", "not run"),
            "what segments read",
        ),
        (
            "value dashboard figures: DuckDB (figures.value_dashboard, what the page reads)",
            r["dashboard_duckdb_s"],
            "target <= 5 s at 10 M",
        ),
        (
            "baseline: ranks + RFM, DuckDB, the same definitions over the raw files (no roll-up)",
            r.get("ranks_rfm_raw_s", "not run"),
            "same figures: " + ("yes" if r.get("same_without_rollups") else "NO" if "dashboard_raw_s" in r else "-"),
        ),
        (
            "baseline: value dashboard figures, DuckDB over the raw files (no roll-up)",
            r.get("dashboard_raw_s", "not run"),
            "",
        ),
        ("baseline: raw DuckDB scan of the tickets, `GROUP BY card`", r["raw_scan_tickets_s"], ""),
        ("baseline: raw DuckDB scan of the lines, margin `GROUP BY card`", r["raw_scan_lines_s"], ""),
    ]
    if "ranks_rfm_aggregates_s" in r:
        rows += [
            (
                "ranks + RFM: the aggregates path (card_day in SQLite, Python)",
                r["ranks_rfm_aggregates_s"],
                "same figures: " + ("yes" if r["same_ranks_rfm"] else "NO"),
            ),
            (
                "value dashboard figures: the aggregates path (dashboard.compute)",
                r["dashboard_aggregates_s"],
                "same figures: " + ("yes" if r["same_dashboard"] else "NO"),
            ),
            (
                "fill the aggregates baseline from the archive (not a cost of either path)",
                r["fill_aggregates_s"],
                f"{r['db_mb']:,} MB SQLite",
            ),
        ]
    from .common import table

    part = (
        ""
        if r["months"] == 12
        else (
            f" ({r['months']} of the 12 months of a {r['year_tickets']:,}-ticket year: the generation's time budget, "
            "LOYALTY_BENCH_BUDGET_S, ran out)"
        )
    )
    return (
        f"## archive_scale\n\n{r['tickets']:,} tickets generated straight to the archive{part} "
        f"({r['lines']:,} lines, "
        f"{r['ledger']:,} ledger entries, {r['archive_mb']:,} MB of Parquet), {r['customers']:,} cards, "
        f"{r['customers_found']:,} customers over the year; best of 1-3 runs (the aggregates path: one run); "
        f"load average {r['load_average']} (1 minute, sampled between the measures).\n\n"
        + table(rows, ("measure", "seconds", "note"))
        + "\n"
    )


if __name__ == "__main__":
    import sys

    print(markdown(run(quick="--quick" in sys.argv)))
