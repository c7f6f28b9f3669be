"""Head office analytics on generated data (issue 8: at 1 M customers / 10 M tickets, value ranks and RFM
recomputed <= 60 s, dashboards <= 1 s, ticket explorer first page <= 300 ms; generation speed reported).

Generates a year of tickets with `loyalty generate`'s library (server.analytics.generate), then times:
- generation (tickets/s) and a full aggregate build (card_day, store_day, card_category);
- value ranks + RFM recomputed over the year (customer values, deciles, ranks, RFM scores);
- the dashboard's figures recomputed (library), and the value page through the Flask app, logged in:
  first view after new data (recomputes) and cached views; the ticket explorer's first page;
- baseline, same run, same file: a raw SQLite full scan `SELECT card, sum(total_cents) FROM tickets GROUP BY card`.
Default 10 k customers / 100 k tickets (about a minute here); --quick 2 k / 20 k;
LOYALTY_BENCH_ANALYTICS_SCALE=N multiplies both. The target scale is 100x the default: at the default
scale, the scale-up column is a linear extrapolation, not a measurement.
LOYALTY_BENCH_ANALYTICS_DB=FILE times an existing database instead (made beforehand by `loyalty generate`,
whose JSON output, saved as FILE.generate.json, gives the generation figures): the way to measure the target
scale itself without generating 37 GB in every bench run.
"""
from __future__ import annotations

import json
import os
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from rich.progress import Progress

from .common import summary_ms, table

TARGET_CUSTOMERS, TARGET_TICKETS = 1_000_000, 10_000_000


def _timed(fn, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def run(quick: bool = False) -> dict:
    from argon2 import PasswordHasher

    from server import accounts
    from server.analytics import aggregate, dashboard, rfm, value
    from server.analytics.generate import Plan, generate
    from server.deskdb import open_db
    from server.web import create_app

    scale = int(os.environ.get("LOYALTY_BENCH_ANALYTICS_SCALE", "1"))
    customers, tickets = (2_000, 20_000) if quick else (10_000 * scale, 100_000 * scale)
    end = date(2026, 6, 30)
    existing = os.environ.get("LOYALTY_BENCH_ANALYTICS_DB")
    with tempfile.TemporaryDirectory() as tmp:
        if existing:
            path = Path(existing)
            conn = open_db(path)
            made = json.loads(Path(f"{existing}.generate.json").read_text())
            customers, tickets = made["customers"], made["tickets"]
            generated_s = round(tickets / made["tickets_per_second"], 1)
            end = date.fromisoformat(conn.execute("SELECT max(substr(closed_at, 1, 10)) FROM tickets").fetchone()[0])
            t0 = time.perf_counter()
            aggregate.refresh(conn)  # nothing new since `loyalty generate` built them: the scheduled job's cost
            aggregate_s = time.perf_counter() - t0
        else:
            path = Path(tmp) / "server.db"
            conn = open_db(path)
            conn.execute("PRAGMA synchronous=OFF")
            with Progress(transient=True) as progress:
                task = progress.add_task("generating", total=tickets)
                t0 = time.perf_counter()
                generate(conn, Plan(customers, tickets, 20, seed=1, end=end),
                         lambda n: progress.update(task, completed=n))
                generated_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            aggregate.refresh(conn)
            aggregate_s = time.perf_counter() - t0
        start = end - timedelta(days=364)

        def ranks_and_rfm():
            values = value.customer_values(conn, start, end)
            value.value_ranks(values)
            value.deciles(values)
            rfm.rfm_scores(values)

        ranks = _timed(ranks_and_rfm, 3)
        baseline = _timed(lambda: conn.execute("SELECT card, sum(total_cents) FROM tickets GROUP BY card").fetchall(),
                          3)
        accounts._hasher = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)
        user = f"bench{time.time_ns()}"
        password = accounts.create_user(conn, user, "head_office")
        app = create_app({"DB": str(path), "SECRET_KEY": "bench", "WTF_CSRF_ENABLED": False},
                         instance_path=str(Path(tmp) / "instance"))
        client = app.test_client()
        client.post("/login", data={"name": user, "password": password})
        period = f"start={start}&end={end}"
        dashboard_compute = _timed(lambda: dashboard.compute(conn, start, end), 3)
        first = _timed(lambda: client.get(f"/office/value?{period}"), 1)
        dashboard_page = _timed(lambda: client.get(f"/office/value?{period}"), 5)
        explorer = _timed(lambda: client.get("/office/tickets"), 10)
        card = conn.execute("SELECT card FROM tickets WHERE card IS NOT NULL LIMIT 1").fetchone()[0]
        explorer_card = _timed(lambda: client.get(f"/office/tickets?card={card}"), 10)
        conn.close()
        size_mb = round(path.stat().st_size / 1e6)
    factor = TARGET_TICKETS / tickets
    return {"customers": customers, "tickets": tickets, "db_mb": size_mb, "existing": bool(existing),
            "generated_s": round(generated_s, 1), "generation_tickets_per_s": round(tickets / generated_s),
            "aggregate_full_s": round(aggregate_s, 2),
            "ranks_rfm": summary_ms(ranks), "dashboard_compute": summary_ms(dashboard_compute),
            "dashboard_first_page": summary_ms(first), "dashboard_page": summary_ms(dashboard_page),
            "explorer_first_page": summary_ms(explorer), "explorer_card_filter": summary_ms(explorer_card),
            "baseline_group_by_card": summary_ms(baseline), "scale_factor_to_target": factor}


def markdown(r: dict) -> str:
    f = r["scale_factor_to_target"]
    rows = [
        ("value ranks + RFM recomputed (year)", r["ranks_rfm"]["p50_ms"], round(r["ranks_rfm"]["p50_ms"] * f / 1000, 1),
         "<= 60 s"),
        ("value dashboard figures recomputed (library)", r["dashboard_compute"]["p50_ms"],
         round(r["dashboard_compute"]["p50_ms"] * f / 1000, 1), ""),
        ("value dashboard page, first view after new data (GET)", r["dashboard_first_page"]["p50_ms"],
         round(r["dashboard_first_page"]["p50_ms"] * f / 1000, 1), ""),
        ("value dashboard page, cached (GET, rendered)", r["dashboard_page"]["p50_ms"],
         "about the same (one cached row + charts)", "<= 1 s"),
        ("ticket explorer, first page", r["explorer_first_page"]["p50_ms"], "about the same (LIMIT 50 on an index)",
         "<= 300 ms"),
        ("ticket explorer, one card", r["explorer_card_filter"]["p50_ms"], "about the same (card index)", ""),
        ("baseline: raw SQLite `SELECT card, sum(total_cents) FROM tickets GROUP BY card`",
         r["baseline_group_by_card"]["p50_ms"], round(r["baseline_group_by_card"]["p50_ms"] * f / 1000, 1), ""),
    ]
    if r.get("existing"):
        built = (f"Generated beforehand by `loyalty generate` at {r['generation_tickets_per_s']:,} tickets/s "
                 f"(about {r['generated_s'] / 60:.0f} min, then its aggregate build); the scheduled aggregate refresh "
                 f"with nothing new took {r['aggregate_full_s']} s.")
    else:
        built = (f"Generation: {r['generation_tickets_per_s']:,} tickets/s ({r['generated_s']} s); full aggregate "
                 f"build {r['aggregate_full_s']} s.")
    scale = ("Measured at the target scale: the last column but one is the measurement itself, in seconds."
             if f == 1 else f"The last column but one multiplies by {f:g} to the target of 1 M customers / 10 M "
             "tickets: a linear extrapolation, not a measurement.")
    return (f"## analytics\n\nHead office on {r['customers']:,} customers and {r['tickets']:,} tickets over a year "
            f"({r['db_mb']:,} MB SQLite). {built} {scale}\n\n"
            + table(rows, ("measure", "p50 ms", "at target (s)" if f == 1 else "extrapolated to target (s)", "target"))
            + "\n")


if __name__ == "__main__":
    import sys

    print(markdown(run(quick="--quick" in sys.argv)))
