"""One connection API over both engines: sqlite3's, which the desk and the office are written against.

`open_connection(target)` gives a sqlite3.Connection for a file path and a `PgConnection` for a
postgresql:// URL. A PgConnection takes the same calls (execute, executemany, executescript,
`with conn:`, BEGIN / COMMIT / ROLLBACK, rows read by index or by name, dict(row)) and translates
the few SQLite spellings the code uses: `?` placeholders, INSERT OR IGNORE, BEGIN IMMEDIATE.

SQL that differs beyond that is said once, in server/storage/sql.py (the only place besides this room and
the ticket stores that asks `dialect(conn)`, "sqlite" or "postgresql"); `lastrowid` has no PostgreSQL
equivalent: write `INSERT ... RETURNING id` (SQLite 3.35+ has it too) and read the row. Transactions, on
either engine: `transaction(conn)`, the one way to open one outside this room.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

import sqlite_utils

from sync.safe_files import private_database

from server.errors import StoreError
from server.storage.migrations import POSTGRESQL, SQLITE, migrate

BUSY_TIMEOUT_S = 30  # a writer waits this long for another to finish
POSTGRES_SCHEMES = ("postgresql://", "postgres://")

_BEGIN = re.compile(r"^\s*BEGIN(\s+(IMMEDIATE|DEFERRED|EXCLUSIVE))?\s*(TRANSACTION)?\s*;?\s*$", re.IGNORECASE)
_RETURNING = re.compile(r"\sRETURNING\s", re.IGNORECASE)


class Connection(Protocol):
    """What the server's code asks of a database connection, and the annotation of every `conn` it takes:
    a sqlite3.Connection on SQLite, a PgConnection (below) on PostgreSQL."""

    def execute(self, sql: str, parameters: Any = ..., /) -> Any: ...

    def executemany(self, sql: str, rows: Any, /) -> Any: ...

    def executescript(self, script: str, /) -> Any: ...

    def commit(self) -> None: ...

    def rollback(self) -> None: ...

    def close(self) -> None: ...

    @property
    def in_transaction(self) -> bool: ...

    def __enter__(self) -> Any: ...

    def __exit__(self, *exc_info: Any) -> Any: ...


def _integrity_errors() -> tuple[type[BaseException], ...]:
    try:
        import psycopg
    except ImportError:  # pragma: no cover - psycopg is a dependency; SQLite works without it
        return (sqlite3.IntegrityError,)
    return (sqlite3.IntegrityError, psycopg.IntegrityError)


def __getattr__(name: str):
    """INTEGRITY_ERRORS: what a UNIQUE, NOT NULL or foreign key refusal raises, on either engine
    (`except INTEGRITY_ERRORS:`); made on first use, so SQLite users never import psycopg."""
    if name == "INTEGRITY_ERRORS":
        return _integrity_errors()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def is_postgres(target) -> bool:
    return str(target).startswith(POSTGRES_SCHEMES)


def dialect(conn) -> str:
    """ "sqlite" for a sqlite3.Connection, "postgresql" for a PgConnection."""
    return getattr(conn, "dialect", SQLITE)


def has_table(conn, name: str) -> bool:
    """Whether a table (or view, index) of that name exists: sqlite_master on SQLite, to_regclass on PostgreSQL."""
    if dialect(conn) == POSTGRESQL:
        return conn.execute("SELECT to_regclass(?) IS NOT NULL", (name,)).fetchone()[0]
    return conn.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (name,)).fetchone() is not None


@contextmanager
def transaction(
    conn, *, immediate: bool = True, snapshot: bool = False, lock: int | None = None, join: bool = False
) -> Iterator:
    """All or nothing, on either engine: the block's writes commit at its end, or roll back whole if it raises
    (on PostgreSQL too: after an error every statement fails until ROLLBACK, which this always sends).

    immediate: SQLite takes the write lock at BEGIN (BEGIN IMMEDIATE), so a read that turns into a write waits
    for other writers instead of failing with `database is locked`; False: a deferred BEGIN (readers).
    snapshot: every statement sees one state of the database (PostgreSQL's repeatable read; a SQLite
    transaction always does).
    lock: an advisory lock id PostgreSQL takes first, so transactions naming it run one at a time, as
    SQLite's BEGIN IMMEDIATE makes every writer.
    join: when the caller has a transaction open, run inside it (no commit, no rollback: the caller's)."""
    if join and conn.in_transaction:
        yield conn
        return
    postgres = dialect(conn) == POSTGRESQL
    if snapshot and postgres:
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
    else:
        conn.execute("BEGIN IMMEDIATE" if immediate and not postgres else "BEGIN")
    try:
        if lock is not None and postgres:
            conn.execute("SELECT pg_advisory_xact_lock(?)", (lock,))
        yield conn
    except BaseException:
        if conn.in_transaction:  # SQLite ends a transaction itself on some errors (a full disk)
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def joined_or_own_transaction(conn):
    """The caller's transaction when one is open; else one of this block's own (a deferred BEGIN)."""
    return transaction(conn, immediate=False, join=True)


def has_column(conn, table: str, column: str) -> bool:
    """Whether `table` has `column` (a column added by a later version may be missing from an old database)."""
    if dialect(conn) == POSTGRESQL:
        return (
            conn.execute(
                "SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema() "
                "AND table_name = ? AND column_name = ?",
                (table, column),
            ).fetchone()
            is not None
        )
    return any(row[1] == column for row in conn.execute(f"PRAGMA table_info({table})").fetchall())


def translate(sql: str, with_params: bool = True) -> str:
    """SQLite's spelling of the statements the server uses, in PostgreSQL's."""
    if _BEGIN.match(sql):
        return "BEGIN"
    if with_params:
        sql = sql.replace("%", "%%").replace("?", "%s")
    if "INSERT OR IGNORE INTO" in sql:
        sql = sql.replace("INSERT OR IGNORE INTO", "INSERT INTO")
        returning = _RETURNING.search(sql)
        if returning:
            sql = sql[: returning.start()] + " ON CONFLICT DO NOTHING" + sql[returning.start() :]
        else:
            sql = sql.rstrip().rstrip(";") + " ON CONFLICT DO NOTHING"
    return sql


class Row:
    """A result row like sqlite3.Row: row[0], row["name"], keys(), dict(row), iteration, equality."""

    __slots__ = ("_values", "_index")

    def __init__(self, values, index: dict[str, int]):
        self._values = tuple(values)
        self._index = index

    def __getitem__(self, key):
        if isinstance(key, str):
            try:
                return self._values[self._index[key]]
            except KeyError:
                raise IndexError(f"no such column: {key}") from None
        return self._values[key]

    def keys(self) -> list[str]:
        return list(self._index)

    def __iter__(self) -> Iterator:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __eq__(self, other) -> bool:
        if isinstance(other, Row):
            return self._values == other._values and self._index == other._index
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._values)

    def __repr__(self) -> str:
        return f"Row({dict(zip(self._index, self._values))!r})"


def _row_factory(cursor):
    description = cursor.description
    if description is None:
        return tuple
    index = {}
    for n, column in enumerate(description):
        index.setdefault(column.name, n)
    return lambda values: Row(values, index)


class Cursor:
    """What execute() gives back: fetchone, fetchall, fetchmany, iteration, rowcount, description."""

    def __init__(self, cursor):
        self._cursor = cursor

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def description(self):
        return self._cursor.description

    @property
    def lastrowid(self):
        raise StoreError("lastrowid does not exist on PostgreSQL: write INSERT ... RETURNING id and read the row")

    def fetchone(self):
        return self._cursor.fetchone() if self._cursor.description is not None else None

    def fetchall(self) -> list:
        return self._cursor.fetchall() if self._cursor.description is not None else []

    def fetchmany(self, size: int = 1) -> list:
        return self._cursor.fetchmany(size) if self._cursor.description is not None else []

    def __iter__(self) -> Iterator:
        if self._cursor.description is None:
            return iter(())
        return iter(self._cursor)

    def close(self) -> None:
        self._cursor.close()


class PgConnection:
    """A psycopg connection (autocommit, so explicit BEGIN/COMMIT and `with conn:` behave as on sqlite3)."""

    dialect = POSTGRESQL

    def __init__(self, raw):
        self.raw = raw
        self.raw.row_factory = _row_factory
        self.row_factory = None  # accepted and ignored: rows always read by index and by name

    def execute(self, sql: str, params=()) -> Cursor:
        return Cursor(self.raw.execute(translate(sql, bool(params)), params or None))

    def executemany(self, sql: str, rows) -> Cursor:
        cursor = self.raw.cursor()
        rows = list(rows)
        if rows:
            cursor.executemany(translate(sql), rows)
        return Cursor(cursor)

    def executescript(self, script: str) -> None:
        """Run several statements (no parameters), as one; sqlite3's executescript commits first, this does not."""
        self.raw.execute(script)

    @property
    def in_transaction(self) -> bool:
        from psycopg.pq import TransactionStatus

        return self.raw.info.transaction_status != TransactionStatus.IDLE

    def commit(self) -> None:
        if self.in_transaction:
            self.raw.execute("COMMIT")

    def rollback(self) -> None:
        if self.in_transaction:
            self.raw.execute("ROLLBACK")

    def __enter__(self) -> PgConnection:
        """Like sqlite3: commit on success, roll back on an exception (opens a transaction if none is open)."""
        if not self.in_transaction:
            self.raw.execute("BEGIN")
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.rollback()

    def close(self) -> None:
        self.raw.close()

    @property
    def closed(self) -> bool:
        return self.raw.closed


def connect_sqlite(path: str | Path) -> sqlite_utils.Database:
    """The server's SQLite database at `path` (0600, WAL), migrated to the current schema."""
    private_database(path)  # 0600, and so its -wal and -shm files (sync/safe_files.py)
    conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    migrate(conn, SQLITE)
    return sqlite_utils.Database(conn)


def connect_pg(url: str, schema: bool = True):
    """An autocommit psycopg connection to `url`, migrated to the current schema (schema=False: as it is)."""
    import psycopg

    conn = psycopg.connect(url, autocommit=True)
    if schema:
        try:
            migrate(conn, POSTGRESQL)
        except BaseException:
            conn.close()
            raise
    return conn


def connect_postgres(url: str, schema: bool = True) -> PgConnection:
    """A PgConnection (sqlite3's API) to `url`, migrated to the current schema (schema=False: as it is)."""
    import psycopg

    try:
        return PgConnection(connect_pg(url, schema))
    except psycopg.OperationalError as exc:
        raise StoreError(
            f"cannot open the PostgreSQL database {redacted(url)}: {str(exc).strip()}; "
            "check the URL and that the server runs"
        ) from None


def open_connection(target: str | Path):
    """sqlite3.Connection (WAL, the store's schema, rows as sqlite3.Row) or PgConnection."""
    if is_postgres(target):
        return connect_postgres(str(target))
    conn = connect_sqlite(target).conn
    conn.row_factory = sqlite3.Row
    return conn


def redacted(url: str) -> str:
    """The URL without its password, to show in messages and logs."""
    scheme, sep, rest = url.partition("://")
    if "@" not in rest:
        return url
    userinfo, _, host = rest.rpartition("@")
    return f"{scheme}{sep}{userinfo.split(':', 1)[0]}@{host}"


def _write_errors() -> tuple[type[BaseException], ...]:
    try:
        import psycopg
    except ImportError:  # pragma: no cover - psycopg is a dependency; SQLite works without it
        return (sqlite3.Error,)
    return (sqlite3.Error, psycopg.Error)


def _data_errors() -> tuple[type[BaseException], ...]:
    try:
        import psycopg
    except ImportError:  # pragma: no cover
        return (sqlite3.IntegrityError, sqlite3.DataError, OverflowError)
    return (sqlite3.IntegrityError, sqlite3.DataError, OverflowError, psycopg.IntegrityError, psycopg.DataError)


# A batch that fails with one of these rolled back whole: ingest tries it again later.
WRITE_ERRORS = _write_errors()
# ...except these, which are about what a message holds, not about the database: ingest sets the
# message aside as a dead letter (server.ingest.receive) instead of trying the same batch for ever.
DATA_ERRORS = _data_errors()
