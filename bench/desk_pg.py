"""The desk on PostgreSQL beside SQLite: the same customers, cards and tickets in both, the same desk calls timed.

Both databases get the same generated rows in the same run; SQLite is the baseline. PostgreSQL is a throwaway
cluster from Debian's package (server.pg_local, not durable: only reads and short desk writes are timed).
Timed on each engine:
- customer view (library): `server.desk.customers.view()` for random customers, on one open connection;
- customer page (web): GET /customers/<id> through the Flask app, logged in; a SQLite request opens the
  file, a PostgreSQL one takes a connection the app keeps open (server/web/connections.py);
- search by name (library): `customers.search()` for a name fragment (lower() LIKE, a sequential scan);
- enrol and issue a card (library): two desk transactions;
- baseline: one customer row by id, on the open connection.
Default 20 k customers / 200 k tickets; --quick 2 k / 20 k.
"""

from __future__ import annotations

import random
import tempfile
import time
from pathlib import Path

from rich.progress import Progress

from .common import summary_ms, table, timed

NOW = "2026-11-01T10:00:00+00:00"
# the lines' VAT rate stays NULL, as before tickets carried it
LINE_COLUMNS = "ticket_id, line_no, gtin, label, category, quantity, unit_cents, discount_cents, total_cents"


def _p95(samples: list[float]) -> dict:
    from .common import percentile

    result = summary_ms(samples)
    result["p95_ms"] = round(percentile([s * 1000 for s in samples], 95), 3)
    return result


def rows(n_customers: int, n_tickets: int, seed: int = 7) -> dict:
    """Customers, one card each, tickets with two lines and one ledger entry (most on a card, skewed)."""
    from programme.cardnumber import make_card_number

    rng = random.Random(seed)
    cards = [make_card_number(f"29{i:010d}") for i in range(n_customers)]
    data = {
        "customers": [
            (i + 1, f"Customer {i}", f"c{i}@example.org", f"06{i:08d}", f"{75000 + i % 900}", 1, NOW, NOW)
            for i in range(n_customers)
        ],
        "cards": [(cards[i], i + 1, "active", NOW, NOW) for i in range(n_customers)],
        "tickets": [],
        "lines": [],
        "ledger": [],
    }
    for seq in range(1, n_tickets + 1):
        card = cards[int(n_customers * rng.random() ** 2)] if rng.random() < 0.8 else None
        tid = f"S001-T01-{seq:08d}"
        day = f"2026-{1 + seq % 10:02d}-{1 + seq % 28:02d}T{8 + seq % 12:02d}:00:00+00:00"
        data["tickets"].append(
            (tid, "S001-T01", seq, "S001", "c1", day, card, 1243, 12, 0, "base-1", "0" * 64, "0" * 64, day, b"{}")
        )
        data["lines"].append((tid, 0, "3017620422003", "spread 400g", "grocery", 2, 199, 0, 398))
        data["lines"].append((tid, 1, "3228857000906", "salmon fillet", "fresh", 1, 845, 0, 845))
        if card:
            data["ledger"].append((card, "earn", 12, "base", f"ticket:{tid}:0", tid, day))
    return data


CUSTOMER_COLUMNS = "id, name, email, phone, postcode, consent_email, created_at, updated_at"
TICKET_COLUMNS = (
    "id, terminal, seq, store, cashier, closed_at, card, total_cents, points_earned, points_redeemed, "
    "rules_version, hash, prev_hash, received_at, payload"
)
LEDGER_COLUMNS = "card, kind, points, rule, cause, ticket_id, at"


def load_sqlite(path: str, data: dict) -> None:
    from server.storage.desk_db import open_db

    conn = open_db(path)
    conn.execute("BEGIN")
    conn.executemany(f"INSERT INTO customers ({CUSTOMER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", data["customers"])
    conn.executemany("INSERT INTO cards VALUES (?, ?, ?, ?, ?, NULL)", data["cards"])
    conn.executemany(f"INSERT INTO tickets ({TICKET_COLUMNS}) VALUES ({', '.join('?' * 15)})", data["tickets"])
    conn.executemany(f"INSERT INTO lines ({LINE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", data["lines"])
    conn.executemany(f"INSERT INTO ledger ({LEDGER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)", data["ledger"])
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.close()


def load_postgres(url: str, data: dict) -> None:
    from server.storage.desk_db import open_db
    from server.ingest.store_pg import partition_ddl

    conn = open_db(url)
    raw = conn.raw
    with raw.transaction():
        for year, month in sorted({(2026, int(t[5][5:7])) for t in data["tickets"]}):
            raw.execute(partition_ddl(year, month))
        with raw.cursor() as cur:
            for table_name, columns, key in (
                ("customers", CUSTOMER_COLUMNS, "customers"),
                ("cards", "number, customer_id, status, issued_at, status_at", "cards"),
                ("ticket_keys", "id, terminal, seq, hash, prev_hash", None),
                ("tickets", TICKET_COLUMNS, "tickets"),
                ("lines", LINE_COLUMNS, "lines"),
                ("ledger", LEDGER_COLUMNS, "ledger"),
            ):
                spec = f"{table_name} ({columns})" if columns else table_name
                with cur.copy(f"COPY {spec} FROM STDIN") as copy:
                    source = data[key] if key else [(t[0], t[1], t[2], t[11], t[12]) for t in data["tickets"]]
                    for row in source:
                        copy.write_row(row)
            cur.execute("SELECT setval(pg_get_serial_sequence('customers', 'id'), max(id)) FROM customers")
    raw.execute("ANALYZE")
    conn.close()


def measure(target: str, tmp: str, label: str, n_customers: int, samples: int) -> dict:
    from server.desk import accounts, cards, customers
    from server.storage.desk_db import open_db
    from server.web import create_app

    rng = random.Random(1)
    conn = open_db(target)
    ids = [rng.randint(1, n_customers) for _ in range(samples)]

    baseline = timed(lambda i: customers.get(conn, i), ids)
    view = timed(lambda i: customers.view(conn, i), ids)
    search = timed(lambda i: customers.search(conn, f"customer {i}9"), ids[:50])
    form = {"name": "Bench Person", "email": "b@example.org", "postcode": "75005"}
    numbers = iter(f"{n}" for n in range(10**9))

    def enrol_and_issue(_):
        from programme.cardnumber import make_card_number

        customer = customers.enrol(conn, form, "bench")
        cards.issue(conn, customer, make_card_number(f"28{next(numbers):0>10}"), "bench", ("28", "29"))

    writes = timed(enrol_and_issue, range(min(samples, 100)))
    password = accounts.create_user(conn, "bench", "head_office")
    app = create_app(
        {"DB": target, "SECRET_KEY": "bench", "WTF_CSRF_ENABLED": False},
        instance_path=str(Path(tmp) / f"instance-{label}"),
    )
    client = app.test_client()
    client.post("/login", data={"name": "bench", "password": password})
    assert client.get(f"/customers/{ids[0]}").status_code == 200, label
    page = timed(lambda i: client.get(f"/customers/{i}"), ids[:200])
    app.extensions["desk_connections"].close()
    conn.close()
    return {
        "view_library": _p95(view),
        "page_web": _p95(page),
        "search_name": _p95(search),
        "enrol_and_issue": _p95(writes),
        "baseline_customer_row": _p95(baseline),
    }


def run(quick: bool = False) -> dict:
    from argon2 import PasswordHasher

    from server.desk import accounts
    from server.storage.pg_local import LocalPostgres

    n_customers, n_tickets = (2_000, 20_000) if quick else (20_000, 200_000)
    samples = 100 if quick else 400
    accounts._hasher = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)  # log-in is not measured
    with tempfile.TemporaryDirectory() as tmp:
        started = time.monotonic()
        data = rows(n_customers, n_tickets)
        path = str(Path(tmp) / "server.db")
        server = LocalPostgres(durable=False).start()
        try:
            url = server.create_database("bench_desk")
            with Progress(transient=True) as progress:
                task = progress.add_task("loading SQLite and PostgreSQL", total=2)
                load_sqlite(path, data)
                progress.advance(task)
                load_postgres(url, data)
                progress.advance(task)
            loaded_s = time.monotonic() - started
            sqlite = measure(path, tmp, "sqlite", n_customers, samples)
            postgres = measure(url, tmp, "postgresql", n_customers, samples)
            version = server.version if hasattr(server, "version") else ""
        finally:
            server.remove()
    return {
        "customers": n_customers,
        "tickets": n_tickets,
        "loaded_s": round(loaded_s, 1),
        "sqlite": sqlite,
        "postgresql": postgres,
        "postgresql_version": version,
    }


MEASURES = [
    ("customer view, library (random customers)", "view_library"),
    ("customer page, web (GET, rendered)", "page_web"),
    ("search by name fragment, library", "search_name"),
    ("enrol a customer and issue a card, library (two transactions)", "enrol_and_issue"),
    ("baseline: one customer row by id", "baseline_customer_row"),
]


def markdown(result: dict) -> str:
    rows_ = [
        (
            name,
            result["sqlite"][key]["p50_ms"],
            result["sqlite"][key]["p95_ms"],
            result["postgresql"][key]["p50_ms"],
            result["postgresql"][key]["p95_ms"],
            result["postgresql"][key]["n"],
        )
        for name, key in MEASURES
    ]
    return (
        f"## desk_pg\n\nThe desk on PostgreSQL beside SQLite (the baseline), same rows, same run: "
        f"{result['customers']:,} customers, {result['tickets']:,} tickets (loaded into both in "
        f"{result['loaded_s']} s); PostgreSQL a local throwaway cluster over TCP on 127.0.0.1.\n\n"
        + table(rows_, ("measure", "SQLite p50 ms", "SQLite p95 ms", "PostgreSQL p50 ms", "PostgreSQL p95 ms", "n"))
        + "\n"
    )


if __name__ == "__main__":
    import sys

    print(markdown(run(quick="--quick" in sys.argv)))
