"""Head office analytics on generated data (issue 8: at 1 M customers / 10 M tickets, value ranks and RFM
recomputed <= 60 s, dashboards <= 1 s, ticket explorer first page <= 300 ms; generation speed reported).

Generates a year of tickets with `loyalty generate`'s library (server.analytics.generate), then times:
- generation (tickets/s) and a full aggregate build (card_day, store_day, card_category);
- value ranks + RFM recomputed over the year (customer values, deciles, ranks, RFM scores);
- the dashboard's figures recomputed (library); the refresh the background refresher and the scheduled job
  run after new tickets (fold + figures + cache row); the value page through the Flask app, logged in: with
  up-to-date figures, and while tickets arrive (a GET after each small batch of new tickets: the page serves
  the last figures with their age and hands the recomputation to the app's refresher thread, which runs in
  the same process meanwhile); the ticket explorer's first page;
- baseline, same run, same file: a raw SQLite full scan `SELECT card, sum(total_cents) FROM tickets GROUP BY card`.
Default 10 k customers / 100 k tickets (about a minute here); --quick 2 k / 20 k;
LOYALTY_BENCH_ANALYTICS_SCALE=N multiplies both. The target scale is 100x the default: at the default
scale, the scale-up column is a linear extrapolation, not a measurement.
LOYALTY_BENCH_ANALYTICS_DB=FILE times an existing database instead (made beforehand by `loyalty generate`,
whose JSON output, saved as FILE.generate.json, gives the generation figures): the way to measure the target
scale itself without generating 37 GB in every bench run. The bench adds a head-office user and about a
hundred tickets of a till S999-T01 (on the last day) to that file.
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
ARRIVING = 20  # tickets stored before each "while tickets arrive" view


class _Arrivals:
    """Small batches of new tickets on the period's last day, through the server's own ingest (as tills send them)."""

    def __init__(self, path: Path, conn, end: date):
        from programme.ticket import GENESIS_HASH

        last = conn.execute(
            "SELECT seq, hash FROM tickets WHERE terminal = 'S999-T01' ORDER BY seq DESC LIMIT 1"
        ).fetchone()  # an existing database may have had some from an earlier run
        self.path, self.end = path, end
        self.seq, self.prev = (last[0], last[1]) if last else (0, GENESIS_HASH)
        self.cards = [r[0] for r in conn.execute("SELECT DISTINCT card FROM card_day LIMIT 500")]

    def __call__(self, count: int = ARRIVING) -> None:
        from datetime import datetime, timezone

        from programme.points import default_rules, earn_points
        from programme.ticket import Tender, Ticket, make_line, ticket_hash
        from server.ingest.store import Store
        from sync.codec import encode_ticket
        from sync.topics import tickets as topic

        made = []
        for _ in range(count):
            self.seq += 1
            at = datetime(self.end.year, self.end.month, self.end.day, 12, tzinfo=timezone.utc) + timedelta(
                seconds=self.seq
            )
            cents = 1000 + self.seq % 5000
            lines = [make_line("3228857000906", 1, cents, category="fresh")]
            card = self.cards[self.seq % len(self.cards)] if self.cards else None
            rules = default_rules()
            made.append(
                Ticket(
                    id=f"S999-T01-{self.seq:08d}",
                    terminal="S999-T01",
                    seq=self.seq,
                    store="S999",
                    cashier="c1",
                    opened_at=at,
                    closed_at=at,
                    lines=lines,
                    tenders=[Tender(kind="cash", cents=cents)],
                    total_cents=cents,
                    card=card,
                    points=earn_points(lines, card, rules=rules, at=at, store="S999") if card else [],
                    rules_version=rules.version,
                    prev_hash=self.prev,
                )
            )
            self.prev = ticket_hash(made[-1])
        store = Store(self.path)
        try:
            store.ingest(
                [(topic(t.terminal), t, encode_ticket(t)) for t in made], [], datetime.now(timezone.utc).isoformat()
            )
        finally:
            store.close()


def _timed(fn, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def run(quick: bool = False) -> dict:
    from argon2 import PasswordHasher

    from server.desk import accounts
    from server.analytics import aggregate, dashboard, rfm, value
    from server.analytics.generate import Plan, generate
    from server.storage.desk_db import open_db
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
                generate(
                    conn, Plan(customers, tickets, 20, seed=1, end=end), lambda n: progress.update(task, completed=n)
                )
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
        baseline = _timed(
            lambda: conn.execute("SELECT card, sum(total_cents) FROM tickets GROUP BY card").fetchall(), 3
        )
        accounts._hasher = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)
        user = f"bench{time.time_ns()}"
        password = accounts.create_user(conn, user, "head_office")
        app = create_app(
            {"DB": str(path), "SECRET_KEY": "bench", "WTF_CSRF_ENABLED": False},
            instance_path=str(Path(tmp) / "instance"),
        )
        client = app.test_client()
        client.post("/login", data={"name": user, "password": password})
        period = f"start={start}&end={end}"
        dashboard_compute = _timed(lambda: dashboard.compute(conn, start, end), 3)
        arrive = _Arrivals(path, conn, end)
        refreshed = []
        for _ in range(3):  # what the refresher thread and the job do: fold what arrived, recompute, store
            arrive()
            refreshed += _timed(lambda: dashboard.dashboard(conn, start, end), 1)
        dashboard_page = _timed(lambda: _page(client, period, "up to date."), 5)
        stale = []
        for _ in range(5):
            arrive()
            stale += _timed(lambda: _page(client, period, "arrived since, being refreshed."), 1)
        refresher = app.extensions["dashboard_refresher"]
        refresher.wait_idle(600)
        refresher.close()
        explorer = _timed(lambda: client.get("/office/tickets"), 10)
        card = conn.execute("SELECT card FROM tickets WHERE card IS NOT NULL LIMIT 1").fetchone()[0]
        explorer_card = _timed(lambda: client.get(f"/office/tickets?card={card}"), 10)
        conn.close()
        size_mb = round(path.stat().st_size / 1e6)
    factor = TARGET_TICKETS / tickets
    return {
        "customers": customers,
        "tickets": tickets,
        "db_mb": size_mb,
        "existing": bool(existing),
        "generated_s": round(generated_s, 1),
        "generation_tickets_per_s": round(tickets / generated_s),
        "aggregate_full_s": round(aggregate_s, 2),
        "ranks_rfm": summary_ms(ranks),
        "dashboard_compute": summary_ms(dashboard_compute),
        "dashboard_refresh": summary_ms(refreshed),
        "dashboard_page": summary_ms(dashboard_page),
        "dashboard_page_stale": summary_ms(stale),
        "refreshes_started": refresher.started,
        "explorer_first_page": summary_ms(explorer),
        "explorer_card_filter": summary_ms(explorer_card),
        "baseline_group_by_card": summary_ms(baseline),
        "scale_factor_to_target": factor,
    }


def _page(client, period: str, expect: str) -> None:
    response = client.get(f"/office/value?{period}", headers={"Accept-Language": "en"})  # the words below are English
    if response.status_code != 200 or expect not in response.get_data(as_text=True):
        raise RuntimeError(f"the value page did not say {expect!r} (HTTP {response.status_code})")


def markdown(r: dict) -> str:
    f = r["scale_factor_to_target"]
    rows = [
        (
            "value ranks + RFM recomputed (year)",
            r["ranks_rfm"]["p50_ms"],
            round(r["ranks_rfm"]["p50_ms"] * f / 1000, 1),
            "<= 60 s",
        ),
        (
            "value dashboard figures recomputed (library)",
            r["dashboard_compute"]["p50_ms"],
            round(r["dashboard_compute"]["p50_ms"] * f / 1000, 1),
            "",
        ),
        (
            f"value dashboard refreshed after {ARRIVING} new tickets (background refresher or job: fold + figures)",
            r["dashboard_refresh"]["p50_ms"],
            round(r["dashboard_refresh"]["p50_ms"] * f / 1000, 1),
            "",
        ),
        (
            "value dashboard page, cached (GET, rendered)",
            r["dashboard_page"]["p50_ms"],
            "about the same (one cached row + charts)",
            "<= 1 s",
        ),
        (
            f"value dashboard page while tickets arrive (stale figures served; GET after {ARRIVING} new tickets, "
            f"{r['refreshes_started']} refresh(es) run meanwhile)",
            r["dashboard_page_stale"]["p50_ms"],
            "about the same (one cached row, a rowid range count, charts)",
            "<= 1 s",
        ),
        (
            "ticket explorer, first page",
            r["explorer_first_page"]["p50_ms"],
            "about the same (LIMIT 50 on an index)",
            "<= 300 ms",
        ),
        ("ticket explorer, one card", r["explorer_card_filter"]["p50_ms"], "about the same (card index)", ""),
        (
            "baseline: raw SQLite `SELECT card, sum(total_cents) FROM tickets GROUP BY card`",
            r["baseline_group_by_card"]["p50_ms"],
            round(r["baseline_group_by_card"]["p50_ms"] * f / 1000, 1),
            "",
        ),
    ]
    if r.get("existing"):
        built = (
            f"Generated beforehand by `loyalty generate` at {r['generation_tickets_per_s']:,} tickets/s "
            f"(about {r['generated_s'] / 60:.0f} min, then its aggregate build); the scheduled aggregate refresh "
            f"with nothing new took {r['aggregate_full_s']} s."
        )
    else:
        built = (
            f"Generation: {r['generation_tickets_per_s']:,} tickets/s ({r['generated_s']} s); full aggregate "
            f"build {r['aggregate_full_s']} s."
        )
    scale = (
        "Measured at the target scale: the last column but one is the measurement itself, in seconds."
        if f == 1
        else f"The last column but one multiplies by {f:g} to the target of 1 M customers / 10 M "
        "tickets: a linear extrapolation, not a measurement."
    )
    return (
        f"## analytics\n\nHead office on {r['customers']:,} customers and {r['tickets']:,} tickets over a year "
        f"({r['db_mb']:,} MB SQLite). {built} {scale}\n\n"
        + table(rows, ("measure", "p50 ms", "at target (s)" if f == 1 else "extrapolated to target (s)", "target"))
        + "\n"
    )


if __name__ == "__main__":
    import sys

    print(markdown(run(quick="--quick" in sys.argv)))
