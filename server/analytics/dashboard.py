"""The value dashboard's figures in one dict, cached in the database with the time they were computed.

When the database feeds an archive (`loyalty office export`), the figures come from it through DuckDB
(server.analytics.figures over the archive's month roll-ups: the same numbers, from the one definition Spark
runs too; a few seconds at 10 M tickets where the aggregates take tens, docs/performance.md), after the archive
is brought up to date (which rewrites the roll-ups of the months that got tickets); the version's tickets part is
then the archive's watermark. Without an archive they come from the aggregates, as before.

Recomputing means reading every customer's aggregates: seconds at national scale, a minute at 10 M
tickets. The cache key is the period; each row keeps the data version it was computed from (the
aggregates' watermark, the ledger's last entry, the cards' last row) and when. `dashboard()` folds
and recomputes when the version changed (the job, the background refresher); a page reads `cached()`
and `behind()` instead, which never fold nor recompute, so it stays fast while tickets arrive.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import msgspec

from server.storage.connection import Connection
from server.storage.sql import rowid_order, table_fingerprint, utc_day
from . import aggregate, archive, points, rfm, value

log = logging.getLogger("loyalty.dashboard")

TOP_CUSTOMERS = 20
# A page computes figures that do not exist yet itself only when that takes about half a second here:
# at most this many tickets to fold, card_day rows over the period and the one before, ledger entries.
INLINE_TICKETS = 10_000
INLINE_ROWS = 50_000
INLINE_LEDGER = 100_000


@dataclass(frozen=True)
class Cached:
    """Figures as stored: the body, the data version they were computed from, and when (UTC ISO-8601)."""

    body: dict
    version: str
    computed_at: str | None  # None for figures computed before the time was recorded


@dataclass(frozen=True)
class Behind:
    """What changed since figures were computed: tickets stored since, and whether anything else did."""

    tickets: int
    other: bool  # ledger entries or cards (a desk correction, an enrolment) with no new ticket

    @property
    def stale(self) -> bool:
        return self.tickets > 0 or self.other


def default_period(conn: Connection, today: date | None = None) -> tuple[date, date]:
    """The year up to the last day with sales (today when there is none): what the value page shows first."""
    last = conn.execute("SELECT max(day) FROM card_day").fetchone()[0]
    if last is None:  # nothing folded yet: the last ticket stored (the closed_at index), as the first fold will say
        last = conn.execute(f"SELECT {utc_day(conn, 'max(closed_at)')} FROM tickets").fetchone()[0]
    end = date.fromisoformat(last) if last else (today or date.today())
    return end - timedelta(days=364), end


def data_version(conn: Connection, folded: bool = True) -> str:
    """tickets:ledger:cards. The tickets part is the aggregates' watermark (what figures computed now would
    include) or, with folded=False, the last ticket stored (what they would include after a fold)."""
    ledger = conn.execute("SELECT coalesce(max(id), 0) FROM ledger").fetchone()[0]
    added = table_fingerprint(conn, "cards", "number")
    cards = conn.execute(f"SELECT {added}, count(*) FROM cards").fetchone()
    tickets = aggregate.watermark(conn) if folded else aggregate.stored(conn)
    return f"{tickets}:{ledger}:{cards[0]}:{cards[1]}"


def cached(conn: Connection, start: date, end: date) -> Cached | None:
    """The last figures computed for [start, end], however old; None when there are none. Never computes."""
    row = conn.execute(
        'SELECT body, version, computed_at FROM dashboard_cache WHERE start = ? AND "end" = ?',
        (start.isoformat(), end.isoformat()),
    ).fetchone()
    return Cached(msgspec.json.decode(row[0]), row[1], row[2]) if row else None


def behind(conn: Connection, figures: Cached) -> Behind:
    """How far the data moved on since `figures` were computed (a range count on the tickets' rowid; on
    PostgreSQL the watermark counts the tickets folded, so the difference is the count)."""
    folded, _, rest = figures.version.partition(":")
    now_tickets, _, now_rest = data_version(conn, folded=False).partition(":")
    tickets = 0
    if int(now_tickets) > int(folded):
        tickets = (
            conn.execute("SELECT count(*) FROM tickets WHERE rowid > ?", (int(folded),)).fetchone()[0]
            if rowid_order(conn)
            else int(now_tickets) - int(folded)
        )
    return Behind(tickets=tickets, other=now_rest != rest)


def small_enough(conn: Connection, start: date, end: date) -> bool:
    """Whether a page may fold and compute the figures for [start, end] itself (see INLINE_*): bounded counts."""
    waiting = aggregate.pending(conn, limit=INLINE_TICKETS + 1)
    if waiting > INLINE_TICKETS:
        return False
    if conn.execute("SELECT coalesce(max(id), 0) FROM ledger").fetchone()[0] > INLINE_LEDGER:
        return False
    first = rfm.previous_period(start, end)[0]
    rows = conn.execute(
        "SELECT count(*) FROM (SELECT 1 FROM card_day WHERE day >= ? AND day <= ? LIMIT ?) found",
        (first.isoformat(), end.isoformat(), INLINE_ROWS + 1),
    ).fetchone()[0]
    return rows + waiting <= INLINE_ROWS  # a ticket not folded yet adds at most one card_day row


def _rank_order(rank: str) -> int:
    return 1 if rank == "top decile" else 11 if rank == "below zero" else int(rank.split()[1])


def enrolments_by_month(conn: Connection, start: date, end: date) -> list[tuple[str, int]]:
    """Cards issued per month in the period (the desk's cards table)."""
    return [
        tuple(r)
        for r in conn.execute(
            "SELECT substr(issued_at, 1, 7), count(*) FROM cards WHERE substr(issued_at, 1, 10) >= ? "
            "AND substr(issued_at, 1, 10) <= ? GROUP BY 1 ORDER BY 1",
            (start.isoformat(), end.isoformat()),
        )
    ]


def compute(conn: Connection, start: date, end: date) -> dict:
    values = value.customer_values(conn, start, end)
    previous = value.customer_values(conn, *rfm.previous_period(start, end))
    retention = rfm.retention(values, previous)
    ranks = value.value_ranks(values)
    scores = rfm.rfm_scores(values)
    rank_counts: dict[str, int] = {}
    for rank in ranks.values():
        rank_counts[rank] = rank_counts.get(rank, 0) + 1
    top = [
        {
            "key": v.key,
            "customer_id": v.customer_id,
            "spend_cents": v.spend_cents,
            "visits": v.visits,
            "recency_days": v.recency_days,
            "rank": ranks[v.key],
            "rfm": scores[v.key].code,
            "ltv_cents": rfm.lifetime_value_cents(v, start, end, retention),
        }
        for v in values[:TOP_CUSTOMERS]
    ]
    return {
        "start": start.isoformat(),
        "end": end.isoformat(),
        "customers": len(values),
        "spend_cents": sum(v.spend_cents for v in values),
        "margin_cents": sum(v.margin_cents for v in values),
        "top20": value.top_share(values, 0.2),
        "retention": retention,
        "curve": value.pareto(values),
        "deciles": value.deciles(values) if values else [],
        "rank_counts": sorted(rank_counts.items(), key=lambda kv: _rank_order(kv[0])),
        "top": top,
        "stores": value.identification_by_store(conn, start, end),
        "points": points.points_summary(conn, start, end, as_of=end),
        "enrolments": enrolments_by_month(conn, start, end),
    }


def compute_archived(conn: Connection, folder: Path, start: date, end: date) -> dict:
    """compute()'s figures from the archive by DuckDB (the enrolments from the desk's cards table)."""
    from .engines import DuckDb
    from .figures import prepare, value_dashboard

    from datetime import datetime, time, timedelta, timezone

    from ..desk.cheque_book import outstanding_cents

    cheques = outstanding_cents(conn, datetime.combine(end + timedelta(days=1), time(), timezone.utc))
    with DuckDb(folder) as engine:
        prepare(engine, value.card_owners(conn))
        body = value_dashboard(engine, start, end, value.point_value_cents(), cheques)
    body["enrolments"] = enrolments_by_month(conn, start, end)
    return body


def _archived_figures(conn: Connection, folder: Path, start: date, end: date) -> tuple[str, bytes | None]:
    """(version, body or None when the cache holds that version) from the archive, exported up to date first
    (another export running meanwhile: the figures of what the archive holds)."""
    others = data_version(conn).partition(":")[2]  # ledger and cards read before the export: never ahead of it
    try:
        archive.export(conn, folder)
    except archive.ArchiveError as exc:
        log.warning("dashboard figures from the archive as it is: %s", exc)
    version = f"{archive.archived(conn)}:{others}"
    row = conn.execute(
        'SELECT version FROM dashboard_cache WHERE start = ? AND "end" = ?', (start.isoformat(), end.isoformat())
    ).fetchone()
    if row and row[0] == version:
        return version, None
    return version, msgspec.json.encode(compute_archived(conn, folder, start, end))


def dashboard(conn: Connection, start: date, end: date) -> dict:
    """The figures for [start, end], folding new tickets first and recomputing when anything changed since
    they were computed (the job and the background refresher call this; pages call cached()). From the
    archive when the database feeds one, else from the aggregates."""
    aggregate.refresh(conn)
    folder = archive.archive_of(conn)
    if folder is not None:
        version, body = _archived_figures(conn, folder, start, end)
        if body is None:
            return cached(conn, start, end).body
    else:
        with aggregate.snapshot(conn):  # the figures are exactly those of their version, whoever writes meanwhile
            version = data_version(conn)
            row = conn.execute(
                'SELECT version, body FROM dashboard_cache WHERE start = ? AND "end" = ?',
                (start.isoformat(), end.isoformat()),
            ).fetchone()
            if row and row[0] == version:
                return msgspec.json.decode(row[1])
            body = msgspec.json.encode(compute(conn, start, end))
    computed_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    with conn:
        conn.execute(
            'INSERT INTO dashboard_cache (start, "end", version, body, computed_at) VALUES (?, ?, ?, ?, ?) '
            'ON CONFLICT(start, "end") DO UPDATE SET version = excluded.version, body = excluded.body, '
            "computed_at = excluded.computed_at",
            (start.isoformat(), end.isoformat(), version, body, computed_at),
        )
    return msgspec.json.decode(body)  # the same shape whether computed now or read from the cache
