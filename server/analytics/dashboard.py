"""The value dashboard's figures in one dict, cached in the database until the data under it changes.

Recomputing means reading every customer's aggregates: seconds at national scale. The cache key is
the period plus a data version (the aggregates' watermark, the ledger's last entry, the cards'
last row), so a repeated view costs a lookup, and any new ticket, ledger entry or card recomputes.
"""
from __future__ import annotations

import sqlite3
from datetime import date, timedelta

import msgspec

from . import aggregate, points, rfm, value

SCHEMA = """
CREATE TABLE IF NOT EXISTS dashboard_cache (
    start TEXT NOT NULL,
    end TEXT NOT NULL,
    version TEXT NOT NULL,
    body BLOB NOT NULL,
    PRIMARY KEY (start, end)
) WITHOUT ROWID;
"""
TOP_CUSTOMERS = 20


def default_period(conn: sqlite3.Connection, today: date | None = None) -> tuple[date, date]:
    """The year up to the last day with sales (today when there is none): what the value page shows first."""
    aggregate.ensure_schema(conn)
    last = conn.execute("SELECT max(day) FROM card_day").fetchone()[0]
    end = date.fromisoformat(last) if last else (today or date.today())
    return end - timedelta(days=364), end


def data_version(conn: sqlite3.Connection) -> str:
    ledger = conn.execute("SELECT coalesce(max(id), 0) FROM ledger").fetchone()[0]
    has_cards = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'cards'").fetchone()
    cards = conn.execute("SELECT coalesce(max(rowid), 0), count(*) FROM cards").fetchone() if has_cards else (0, 0)
    return f"{aggregate.watermark(conn)}:{ledger}:{cards[0]}:{cards[1]}"


def _rank_order(rank: str) -> int:
    return 1 if rank == "top decile" else 11 if rank == "below zero" else int(rank.split()[1])


def enrolments_by_month(conn: sqlite3.Connection, start: date, end: date) -> list[tuple[str, int]]:
    """Cards issued per month in the period (the desk's cards table; empty without it)."""
    if not conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'cards'").fetchone():
        return []
    return [tuple(r) for r in conn.execute(
        "SELECT substr(issued_at, 1, 7), count(*) FROM cards WHERE substr(issued_at, 1, 10) >= ? "
        "AND substr(issued_at, 1, 10) <= ? GROUP BY 1 ORDER BY 1", (start.isoformat(), end.isoformat()))]


def compute(conn: sqlite3.Connection, start: date, end: date) -> dict:
    values = value.customer_values(conn, start, end)
    previous = value.customer_values(conn, *rfm.previous_period(start, end))
    retention = rfm.retention(values, previous)
    ranks = value.value_ranks(values)
    scores = rfm.rfm_scores(values)
    rank_counts: dict[str, int] = {}
    for rank in ranks.values():
        rank_counts[rank] = rank_counts.get(rank, 0) + 1
    top = [{"key": v.key, "customer_id": v.customer_id, "spend_cents": v.spend_cents, "visits": v.visits,
            "recency_days": v.recency_days, "rank": ranks[v.key], "rfm": scores[v.key].code,
            "ltv_cents": rfm.lifetime_value_cents(v, start, end, retention)} for v in values[:TOP_CUSTOMERS]]
    return {
        "start": start.isoformat(), "end": end.isoformat(), "customers": len(values),
        "spend_cents": sum(v.spend_cents for v in values), "margin_cents": sum(v.margin_cents for v in values),
        "top20": value.top_share(values, 0.2), "retention": retention,
        "curve": value.pareto(values), "deciles": value.deciles(values) if values else [],
        "rank_counts": sorted(rank_counts.items(), key=lambda kv: _rank_order(kv[0])), "top": top,
        "stores": value.identification_by_store(conn, start, end),
        "points": points.points_summary(conn, start, end, as_of=end),
        "enrolments": enrolments_by_month(conn, start, end),
    }


def dashboard(conn: sqlite3.Connection, start: date, end: date) -> dict:
    """The figures for [start, end], from the cache when nothing changed since they were computed."""
    aggregate.refresh(conn)
    conn.executescript(SCHEMA)
    version = data_version(conn)
    row = conn.execute("SELECT version, body FROM dashboard_cache WHERE start = ? AND end = ?",
                       (start.isoformat(), end.isoformat())).fetchone()
    if row and row[0] == version:
        return msgspec.json.decode(row[1])
    body = msgspec.json.encode(compute(conn, start, end))
    with conn:
        conn.execute("INSERT INTO dashboard_cache VALUES (?, ?, ?, ?) ON CONFLICT(start, end) DO UPDATE SET "
                     "version = excluded.version, body = excluded.body",
                     (start.isoformat(), end.isoformat(), version, body))
    return msgspec.json.decode(body)  # the same shape whether computed now or read from the cache
