"""The archive's roll-ups: per month, what the figures need of its tickets and ledger entries, summed.

Beside each month's raw files the archive keeps four small tables, each one Parquet file a month
(`card_month/month=2026-11/rollup.parquet`...):

- `card_month`: per card, its visits (distinct days), spend, margin, tickets, points earned and
  redeemed, last day (tickets without a card are not in it);
- `store_day`: per store and day, sales, tickets, and those on an identified card;
- `card_points`: per card and lot month (the month of an entry's lot, else of the entry), the points
  credited and debited (what the points standing and the coming expiry need);
- `points_day`: per day and ledger kind, the points.

Each is defined once (`definition`: SQL that DuckDB and Spark both run over the raw `tickets` and
`ledger` views): the export and the bench's generator write them with it, and the figures run the same
text over the raw files for the days of a month they need only in part, and for a month whose roll-up
lags its files. A month's roll-ups are rewritten whole, after its raw files changed (new or late
tickets), then `_rollups/YYYY-MM.json` names the raw files (name, size, modification time) they were
made from: a month whose record does not match its files is *stale*, and is read from the raw files
until the next export rewrites it. So a crash anywhere leaves correct figures.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

ROLLUPS = ("card_month", "store_day", "card_points", "points_day")
SOURCES = ("tickets", "ledger")
RECORDS = "_rollups"
FILE = "rollup.parquet"

_CARD_MONTH = """
SELECT month, card, CAST(count(DISTINCT day) AS BIGINT) AS visits, CAST(sum(total_cents) AS BIGINT) AS spend_cents,
       CAST(sum(margin_cents) AS BIGINT) AS margin_cents, CAST(count(*) AS BIGINT) AS tickets,
       CAST(sum(points_earned) AS BIGINT) AS points_earned, CAST(sum(points_redeemed) AS BIGINT) AS points_redeemed,
       max(day) AS last_day
FROM tickets WHERE card IS NOT NULL AND {where}
GROUP BY month, card"""
_STORE_DAY = """
SELECT month, store, day, CAST(sum(total_cents) AS BIGINT) AS spend_cents, CAST(count(*) AS BIGINT) AS tickets,
       CAST(sum(CASE WHEN card IS NOT NULL THEN total_cents ELSE 0 END) AS BIGINT) AS identified_cents,
       CAST(count(card) AS BIGINT) AS identified_tickets
FROM tickets WHERE {where}
GROUP BY month, store, day"""
_CARD_POINTS = """
SELECT month, card, substr(CAST(coalesce(ledger.lot_at, ledger.at) AS STRING), 1, 7) AS lot_month,
       CAST(sum(CASE WHEN points > 0 THEN points ELSE 0 END) AS BIGINT) AS credits,
       CAST(-sum(CASE WHEN points < 0 THEN points ELSE 0 END) AS BIGINT) AS debits
FROM ledger WHERE {where}
GROUP BY month, card, substr(CAST(coalesce(ledger.lot_at, ledger.at) AS STRING), 1, 7)"""
_POINTS_DAY = """
SELECT month, CAST(ledger.at AS DATE) AS day, kind, CAST(sum(points) AS BIGINT) AS points
FROM ledger WHERE {where}
GROUP BY month, CAST(ledger.at AS DATE), kind"""
_DEFINITIONS = {
    "card_month": _CARD_MONTH,
    "store_day": _STORE_DAY,
    "card_points": _CARD_POINTS,
    "points_day": _POINTS_DAY,
}
COLUMNS = {
    "card_month": ("month, card, visits, spend_cents, margin_cents, tickets, points_earned, points_redeemed, last_day"),
    "store_day": "month, store, day, spend_cents, tickets, identified_cents, identified_tickets",
    "card_points": "month, card, lot_month, credits, debits",
    "points_day": "month, day, kind, points",
}
# a month with no ledger file (or no tickets file): the columns the definitions read, no row
EMPTY = {
    "tickets": "CAST(NULL AS VARCHAR) AS card, CAST(NULL AS VARCHAR) AS store, CAST(NULL AS DATE) AS day, "
    "CAST(NULL AS BIGINT) AS total_cents, CAST(NULL AS BIGINT) AS margin_cents, "
    "CAST(NULL AS BIGINT) AS points_earned, CAST(NULL AS BIGINT) AS points_redeemed",
    "ledger": "CAST(NULL AS VARCHAR) AS card, CAST(NULL AS VARCHAR) AS kind, CAST(NULL AS BIGINT) AS points, "
    'CAST(NULL AS TIMESTAMPTZ) AS "at", CAST(NULL AS TIMESTAMPTZ) AS lot_at',
}
SOURCE = {"card_month": "tickets", "store_day": "tickets", "card_points": "ledger", "points_day": "ledger"}


def definition(name: str, where: str = "true") -> str:
    """The roll-up `name` (with its `month` column) over the raw rows that `where` keeps."""
    return _DEFINITIONS[name].format(where=where)


def months(archive: Path) -> list[str]:
    """The months ("2026-11") with raw files in the archive."""
    found = set()
    for table in SOURCES:
        folder = archive / table
        if folder.is_dir():
            found |= {p.name[len("month=") :] for p in folder.iterdir() if p.name.startswith("month=")}
    return sorted(found)


def _sources(archive: Path, month: str) -> dict:
    """What the month's roll-ups are made from: each raw file's name, size and modification time."""
    out = {}
    for table in SOURCES:
        folder = archive / table / f"month={month}"
        entries = sorted(os.scandir(folder), key=lambda d: d.name) if folder.is_dir() else []
        out[table] = [[d.name, d.stat().st_size, d.stat().st_mtime_ns] for d in entries if d.name.endswith(".parquet")]
    return out


def _record(archive: Path, month: str) -> Path:
    return archive / RECORDS / f"{month}.json"


def is_fresh(archive: Path, month: str) -> bool:
    """Whether the month's roll-ups were made from exactly the raw files it holds now."""
    try:
        recorded = json.loads(_record(archive, month).read_text())["sources"]
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return recorded == _sources(archive, month) and all(
        (archive / name / f"month={month}" / FILE).exists() for name in ROLLUPS
    )


def status(archive: Path) -> tuple[list[str], list[str]]:
    """(fresh months, stale months) of the archive."""
    fresh, stale = [], []
    for month in months(archive):
        (fresh if is_fresh(archive, month) else stale).append(month)
    return fresh, stale


def files(archive: Path, name: str, fresh: list[str]) -> list[str]:
    """The roll-up `name`'s files of the fresh months."""
    return [str(archive / name / f"month={m}" / FILE) for m in fresh]


def write_month(archive: Path, month: str, db=None) -> None:
    """Write the month's roll-ups from its raw files (DuckDB), then record what they were made from.

    `db`: a DuckDB connection to use (the generator's, with its settings); a new one otherwise."""
    import duckdb

    own = db is None
    if own:
        db = duckdb.connect(":memory:", config={"preserve_insertion_order": False})
        db.execute("SET enable_progress_bar = false")
    db.execute("SET TimeZone = 'UTC'")
    before = _sources(archive, month)
    try:
        for table in SOURCES:
            names = [str(archive / table / f"month={month}" / f[0]) for f in before[table]]
            if names:
                listed = ", ".join("'" + n.replace("'", "''") + "'" for n in names)
                db.execute(
                    f"CREATE OR REPLACE TEMP VIEW {table} AS SELECT *, '{month}' AS month FROM "
                    f"read_parquet([{listed}], union_by_name = true, hive_partitioning = false)"
                )
            else:
                db.execute(
                    f"CREATE OR REPLACE TEMP VIEW {table} AS SELECT {EMPTY[table]}, '{month}' AS month WHERE false"
                )
        for name in ROLLUPS:
            path = archive / name / f"month={month}" / FILE
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.chmod(path.parent.parent, 0o700)
            temporary = path.with_name(f".{FILE}.tmp")
            kept = COLUMNS[name].split(", ", 1)[1]
            db.execute(
                f"COPY (SELECT {kept} FROM ({definition(name)}) r ORDER BY ALL) TO '{temporary}' "
                "(FORMAT parquet, COMPRESSION zstd)"
            )
            os.chmod(temporary, 0o600)
            _durable_rename(temporary, path)
    finally:
        for table in SOURCES:
            db.execute(f"DROP VIEW IF EXISTS {table}")
        if own:
            db.close()
    record = _record(archive, month)
    record.parent.mkdir(mode=0o700, exist_ok=True)
    temporary = record.with_name(f".{record.name}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump({"month": month, "sources": before}, out)
        out.flush()
        os.fsync(out.fileno())
    _durable_rename(temporary, record)


def refresh(archive: Path, only: set[str] | None = None) -> list[str]:
    """Rewrite the roll-ups of every stale month (of `only` those months when given); returns the months written."""
    written = []
    for month in months(archive):
        if (only is None or month in only) and not is_fresh(archive, month):
            write_month(archive, month)
            written.append(month)
    return written


def remove_temporaries(archive: Path) -> None:
    for name in ROLLUPS:
        for stale in (archive / name).glob("month=*/.*.tmp"):
            stale.unlink()
    for stale in (archive / RECORDS).glob(".*.tmp"):
        stale.unlink()


def _durable_rename(temporary: Path, path: Path) -> None:
    with open(temporary, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def view_sql(name: str, files_relation: str | None, stale: list[str]) -> str:
    """The roll-up `name` as the figures read it: the fresh months' files (`files_relation`, None when there is
    none) and, for the stale months, the definition over the raw views (an empty result when neither)."""
    parts = [f"SELECT {COLUMNS[name]} FROM {files_relation}"] if files_relation else []
    if stale or not parts:
        months_in = ", ".join(f"'{m}'" for m in stale) or "''"
        parts.append(f"SELECT {COLUMNS[name]} FROM ({definition(name, f'month IN ({months_in})')}) r")
    return " UNION ALL ".join(parts)
