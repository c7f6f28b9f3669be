"""DuckDB over the archive: the views `tickets`, `lines`, `ledger` and the roll-ups, and read-only ad-hoc questions.

`open_archive(dir)` gives an in-memory DuckDB connection whose views read the archive's Parquet
files (Hive partitions: each has a `month` column, "2026-11"), shut in: it may read files under the
archive only, load no extension and change no setting. `ask(dir, sql)` runs one analyst's query: a
single SELECT (or WITH ... SELECT, VALUES, DESCRIBE, SUMMARIZE) as DuckDB itself parses it;
anything else is refused before it runs, saying what is allowed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from . import rollups
from .archive import MANIFEST, TABLES, ArchiveError, schemas


class QueryRefused(ArchiveError):
    """An ad-hoc query that is not a single read-only query."""


@dataclass
class Answer:
    columns: list[str]
    rows: list[tuple]


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


# The figures' settings: no row order to keep (every figure that needs one says ORDER BY), so DuckDB may
# aggregate and write in parallel without putting rows back in order.
# LOYALTY_DUCKDB_MEMORY caps DuckDB's memory (e.g. "6GB"; DuckDB's default is 80% of the machine's).
FIGURES_SETTINGS = {"preserve_insertion_order": False} | (
    {"memory_limit": os.environ["LOYALTY_DUCKDB_MEMORY"]} if os.environ.get("LOYALTY_DUCKDB_MEMORY") else {}
)


def open_archive(archive: str | Path, use_rollups: bool = True, settings: dict | None = None):
    """An in-memory DuckDB connection with the archive's tables as views; a table with no file yet is empty.

    `use_rollups=False` reads every month's roll-ups from the raw files (as if stale: the bench's baseline);
    `settings`: more DuckDB settings (FIGURES_SETTINGS for the figures)."""
    import duckdb

    archive = Path(archive).resolve()
    if not (archive / MANIFEST).exists():
        raise ArchiveError(f"{archive} is not an archive (no {MANIFEST}): run `loyalty office export` first")
    db = duckdb.connect(
        ":memory:",
        config={"autoinstall_known_extensions": False, "autoload_known_extensions": False, **(settings or {})},
    )
    try:
        for name in TABLES:
            files = archive / name / "*" / "*.parquet"
            if any((archive / name).glob("month=*/*.parquet")):
                db.execute(
                    f"CREATE VIEW {name} AS SELECT * FROM read_parquet({_quoted(str(files))}, "
                    "hive_partitioning = true, union_by_name = true)"
                )
            else:
                columns = ", ".join(f"CAST(NULL AS {_duck_type(f.type)}) AS {f.name}" for f in schemas()[name])
                db.execute(f"CREATE VIEW {name} AS SELECT {columns}, CAST(NULL AS VARCHAR) AS month WHERE false")
        _rollup_views(db, archive, use_rollups)
        db.execute("SET enable_progress_bar = false")  # DuckDB's bar would go to stdout, into the JSON printed
        db.execute("SET TimeZone = 'UTC'")  # a timestamp's day is its UTC day, as the store's and Spark's
        db.execute(f"SET allowed_directories = [{_quoted(str(archive) + '/')}]")
        db.execute("SET enable_external_access = false")
        db.execute("SET lock_configuration = true")
    except BaseException:
        db.close()
        raise
    return db


def _rollup_views(db, archive: Path, use_rollups: bool = True) -> None:
    """The roll-ups (rollups.py) as views: each fresh month's file, the stale months from the raw views."""
    fresh, stale = rollups.status(archive) if use_rollups else ([], rollups.months(archive))
    for name in rollups.ROLLUPS:
        files = rollups.files(archive, name, fresh)
        listed = ", ".join(map(_quoted, files))
        relation = (
            "(SELECT * REPLACE (CAST(month AS VARCHAR) AS month) FROM "
            f"read_parquet([{listed}], hive_partitioning = true))"
            if files
            else None
        )
        db.execute(f"CREATE VIEW {name} AS {rollups.view_sql(name, relation, stale)}")


def _duck_type(arrow_type) -> str:
    import pyarrow as pa

    if pa.types.is_timestamp(arrow_type):
        return "TIMESTAMPTZ"
    if pa.types.is_date(arrow_type):
        return "DATE"
    if pa.types.is_integer(arrow_type):
        return "BIGINT"
    return "VARCHAR"


ALLOWED = "one query: SELECT, WITH ... SELECT, FROM, VALUES, DESCRIBE, SHOW or SUMMARIZE"


def check_query(db, sql: str) -> str:
    """The statement to run, when `sql` is exactly one read-only query (by DuckDB's own parser); QueryRefused else."""
    import duckdb

    try:
        statements = db.extract_statements(sql)
    except duckdb.Error as exc:
        raise QueryRefused(f"the query does not parse: {str(exc).strip()}") from None
    if not statements:
        raise QueryRefused(f"no query given: give {ALLOWED}")
    if len(statements) > 1:
        raise QueryRefused(f"{len(statements)} statements given: give {ALLOWED}")
    kind = statements[0].type
    if kind != duckdb.StatementType.SELECT:
        raise QueryRefused(f"{kind.name} statements are refused: the archive is read only; give {ALLOWED}")
    return statements[0].query


def ask(archive: str | Path, sql: str, limit: int | None = None) -> Answer:
    """Run one read-only query over the archive's views; at most `limit` rows when given."""
    import tempfile

    import duckdb

    with tempfile.TemporaryDirectory(prefix="loyalty-duckdb-") as spill:  # 0700: spilled rows hold card numbers
        db = open_archive(archive, settings={"temp_directory": spill})
        try:
            query = check_query(db, sql)
            try:
                cursor = db.execute(query)
                rows = cursor.fetchmany(limit) if limit is not None else cursor.fetchall()
            except duckdb.Error as exc:
                raise ArchiveError(f"the query failed: {str(exc).strip()}") from None
            return Answer([d[0] for d in cursor.description], rows)
        finally:
            db.close()
