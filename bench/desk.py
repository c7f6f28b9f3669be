"""The desk's customer view on a large server database (issue 7: p95 <= 100 ms at 1 M customers, 10 M tickets).

Generates customers, one card each, tickets with two lines and one ledger entry each (most on a card,
skewed so a few customers have thousands of tickets), straight into the server's SQLite file, then times:
- customer view (library): `server.desk.customers.view()` for random customers, and for the heaviest one;
- customer page (web): GET /customers/<id> through the Flask app, logged in (rendering included);
- baseline, same run, same file: one ticket read by primary key, and one customer row by id.
Default scale 50 k customers / 500 k tickets (about a minute, most of it generating);
LOYALTY_BENCH_DESK_SCALE=20 runs the target scale (about 7 GB and half an hour here).
"""

from __future__ import annotations

import os
import random
import re
import tempfile
import time
from pathlib import Path

from rich.progress import Progress

from .common import summary_ms, table, timed

CHUNK = 50_000


def _p95(samples: list[float]) -> dict:
    from .common import percentile

    result = summary_ms(samples)
    result["p95_ms"] = round(percentile([s * 1000 for s in samples], 95), 3)
    return result


def generate(path: Path, n_customers: int, n_tickets: int, progress: Progress, seed: int = 7) -> None:
    from programme.cardnumber import make_card_number
    from server.storage.desk_db import open_db

    rng = random.Random(seed)
    conn = open_db(path)
    conn.execute("PRAGMA synchronous=OFF")
    now = "2026-11-01T10:00:00+00:00"
    task = progress.add_task("customers and cards", total=n_customers)
    cards = [make_card_number(f"29{i:010d}") for i in range(n_customers)]
    for start in range(0, n_customers, CHUNK):
        rows = range(start, min(start + CHUNK, n_customers))
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO customers (id, name, email, phone, postcode, consent_email, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, 1, ?, ?)",
            [(i + 1, f"Customer {i}", f"c{i}@example.org", f"06{i:08d}", f"{75000 + i % 900}", now, now) for i in rows],
        )
        conn.executemany(
            "INSERT INTO cards (number, customer_id, status, issued_at, status_at) VALUES (?, ?, 'active', ?, ?)",
            [(cards[i], i + 1, now, now) for i in rows],
        )
        conn.execute("COMMIT")
        progress.advance(task, len(rows))
    task = progress.add_task("tickets, lines, ledger", total=n_tickets)
    for start in range(0, n_tickets, CHUNK):
        tickets, lines, ledger = [], [], []
        for seq in range(start + 1, min(start + CHUNK, n_tickets) + 1):
            card = cards[int(n_customers * rng.random() ** 2)] if rng.random() < 0.8 else None
            tid = f"S001-T01-{seq:08d}"
            day = f"2026-{1 + seq % 10:02d}-{1 + seq % 28:02d}T{8 + seq % 12:02d}:00:00+00:00"
            tickets.append(
                (tid, "S001-T01", seq, "S001", "c1", day, card, 1243, 12, 0, "base-1", "0" * 64, "0" * 64, day, b"{}")
            )
            lines.append((tid, 0, "3017620422003", "spread 400g", "grocery", 2, 199, 0, 398))
            lines.append((tid, 1, "3228857000906", "salmon fillet", "fresh", 1, 845, 0, 845))
            if card:
                ledger.append((card, "earn", 12, "base", f"ticket:{tid}:0", tid, day))
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO tickets VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", tickets)
        conn.executemany("INSERT INTO lines VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)", lines)
        conn.executemany(
            "INSERT INTO ledger (card, kind, points, rule, cause, ticket_id, at) VALUES (?, ?, ?, ?, ?, ?, ?)", ledger
        )
        conn.execute("COMMIT")
        progress.advance(task, len(tickets))
    conn.execute("ANALYZE")
    conn.close()


def run(quick: bool = False) -> dict:
    from server.desk import accounts, customers
    from server.storage.desk_db import open_db
    from server.web import create_app

    scale = int(os.environ.get("LOYALTY_BENCH_DESK_SCALE", "1"))
    n_customers, n_tickets = (10_000, 100_000) if quick else (50_000 * scale, 500_000 * scale)
    samples = 100 if quick else 500
    rng = random.Random(1)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "server.db"
        started = time.monotonic()
        with Progress(transient=True) as progress:
            generate(path, n_customers, n_tickets, progress)
        generated_s = time.monotonic() - started
        conn = open_db(path)
        heaviest = conn.execute(
            "SELECT customer_id, count(*) AS n FROM tickets JOIN cards ON number = card "
            "GROUP BY card ORDER BY n DESC LIMIT 1"
        ).fetchone()
        ids = [rng.randint(1, n_customers) for _ in range(samples)]
        ticket_ids = [f"S001-T01-{rng.randint(1, n_tickets):08d}" for _ in range(samples)]

        baseline_ticket = timed(
            lambda t: conn.execute("SELECT * FROM tickets WHERE id = ?", (t,)).fetchone(), ticket_ids
        )
        baseline_customer = timed(lambda i: customers.get(conn, i), ids)
        view = timed(lambda i: customers.view(conn, i), ids)
        heavy = timed(lambda i: customers.view(conn, i), [heaviest[0]] * 10)
        password = accounts.create_user(conn, "bench", "head_office")
        app = create_app({"DB": str(path), "SECRET_KEY": "bench", "WTF_CSRF_ENABLED": False}, instance_path=tmp)
        client = app.test_client()
        client.post("/login", data={"name": "bench", "password": password})
        page = timed(lambda i: client.get(f"/customers/{i}"), ids[:200])
        assert re.search(r'id="balance">\d+<', client.get(f"/customers/{ids[0]}").get_data(as_text=True))
        conn.close()
        size_mb = round(path.stat().st_size / 1e6)
    return {
        "customers": n_customers,
        "tickets": n_tickets,
        "db_mb": size_mb,
        "generated_s": round(generated_s, 1),
        "heaviest_customer_tickets": heaviest[1],
        "view_library": _p95(view),
        "view_heaviest_customer": _p95(heavy),
        "page_web": _p95(page),
        "baseline_ticket_by_id": _p95(baseline_ticket),
        "baseline_customer_row": _p95(baseline_customer),
    }


def markdown(result: dict) -> str:
    rows = [
        (name, result[key]["p50_ms"], result[key]["p95_ms"], result[key]["p99_ms"], result[key]["n"])
        for name, key in [
            ("customer view, library (random customers)", "view_library"),
            (
                f"customer view, heaviest customer ({result['heaviest_customer_tickets']} tickets)",
                "view_heaviest_customer",
            ),
            ("customer page, web (GET, rendered)", "page_web"),
            ("baseline: one ticket by primary key", "baseline_ticket_by_id"),
            ("baseline: one customer row by id", "baseline_customer_row"),
        ]
    ]
    return (
        f"## desk\n\nCustomer view on {result['customers']:,} customers and {result['tickets']:,} tickets "
        f"({result['db_mb']} MB SQLite, generated in {result['generated_s']} s). Target: p95 <= 100 ms at "
        "1 M customers / 10 M tickets.\n\n" + table(rows, ("measure", "p50 ms", "p95 ms", "p99 ms", "n")) + "\n"
    )


if __name__ == "__main__":
    import sys

    print(markdown(run(quick="--quick" in sys.argv)))
