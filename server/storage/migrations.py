"""Numbered migrations of the server's database, recorded in `schema_migrations` on both engines.

Every opener runs `migrate()` (server.storage.connection): a database that is up to date costs one query;
an older one gets the migrations it lacks, in order, in one transaction, by one process at a time (SQLite's
BEGIN IMMEDIATE, PostgreSQL's advisory lock), each recorded with when it ran. A database made before this
table existed has none recorded: every migration is written so that it finds what an older version made and
adds only what is missing, so any older database ends with the same shape as a new one (tested).

To change the schema, append a Migration; never edit one that has shipped.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone

from server.storage import desk_schema, ticket_schema

SQLITE, POSTGRESQL = "sqlite", "postgresql"
MIGRATION_LOCK = 0x10CA17  # advisory lock id on PostgreSQL: one process migrates at a time

TABLE = """CREATE TABLE IF NOT EXISTS schema_migrations (
    number INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at TEXT NOT NULL
)"""


@dataclass(frozen=True)
class Migration:
    number: int
    name: str
    sqlite: Callable[[sqlite3.Connection], None]
    postgresql: Callable[[object], None]  # a psycopg connection inside the migration's transaction


def statements(script: str) -> list[str]:
    """A script's statements one by one (a trigger's body stays whole): sqlite3's executescript would commit
    the migration's transaction first."""
    out, buffer = [], ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            if buffer.strip():
                out.append(buffer.strip())
            buffer = ""
    if buffer.strip():
        out.append(buffer.strip())
    return out


def _sqlite_script(script: str) -> Callable[[sqlite3.Connection], None]:
    def run(conn: sqlite3.Connection) -> None:
        for statement in statements(script):
            conn.execute(statement)

    return run


def _pg_script(script: str) -> Callable[[object], None]:
    def run(conn) -> None:
        conn.execute(script)

    return run


def _pg_card_points(conn) -> None:
    if conn.execute("SELECT to_regclass('card_points')").fetchone()[0] is None:
        conn.execute(ticket_schema.PG_CARD_POINTS)  # a database made before card_points: balances summed once


def _add_column(table: str, column: str, definition: str) -> Callable[[object], None]:
    """ALTER TABLE ... ADD COLUMN, unless an older version's opener added it already."""

    def run(conn) -> None:
        if isinstance(conn, sqlite3.Connection):
            present = column in {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}
        else:
            present = (
                conn.execute(
                    "SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema() "
                    "AND table_name = %s AND column_name = %s",
                    (table, column),
                ).fetchone()
                is not None
            )
        if not present:
            conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {definition}")

    return run


def _add_column_if_table(table: str, column: str, definition: str) -> Callable[[object], None]:
    """_add_column on a table made on first use (an older database may not have it yet: then its CREATE TABLE
    has the column)."""

    def run(conn) -> None:
        if isinstance(conn, sqlite3.Connection):
            exists = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)).fetchone()
        else:
            exists = conn.execute("SELECT to_regclass(%s)", (table,)).fetchone()[0]
        if exists:
            _add_column(table, column, definition)(conn)

    return run


def _reasons_as_parts(conn) -> None:
    """Head office's reasons as codes and parameters beside their English text (server/ingest/reasons.py)."""
    _add_column("discrepancies", "reason_json", "TEXT")(conn)
    _add_column_if_table("nbo_offer_types", "stopped_json", "TEXT")(conn)


def _nothing(conn) -> None:
    """The engine's earlier migration already holds this change."""


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "the ticket store's tables",
        _sqlite_script(ticket_schema.SQLITE_SCHEMA + ticket_schema.RETURNS_SCHEMA + ticket_schema.HELD_SCHEMA),
        _pg_script(ticket_schema.PG_SCHEMA + ticket_schema.RETURNS_SCHEMA + ticket_schema.HELD_SCHEMA),
    ),
    Migration(
        2, "ledger.lot_at: points moved between cards keep their lot's date", ticket_schema.add_lot_at, _nothing
    ),  # PG_SCHEMA adds it IF NOT EXISTS
    Migration(3, "card_points, each card's balance kept by triggers", ticket_schema.add_card_points, _pg_card_points),
    Migration(4, "the desk's tables", _sqlite_script(desk_schema.DESK_SCHEMA), _pg_script(desk_schema.DESK_SCHEMA_PG)),
    Migration(
        5,
        "users.session_version: log-out and password changes end sessions",
        _add_column("users", "session_version", "INTEGER NOT NULL DEFAULT 0"),
        _add_column("users", "session_version", "INTEGER NOT NULL DEFAULT 0"),
    ),
    Migration(
        6,
        "lines.vat_rate: each line keeps the VAT rate it was sold at (NULL: sold before)",
        _add_column("lines", "vat_rate", "INTEGER"),
        _add_column("lines", "vat_rate", "INTEGER"),
    ),
    Migration(
        7,
        "users.language: the pages' language a user chose (fr, en; NULL: the browser's)",
        _add_column("users", "language", "TEXT"),
        _add_column("users", "language", "TEXT"),
    ),
    Migration(
        8,
        "discrepancies.reason_json, nbo_offer_types.stopped_json: head office's reasons as codes and parameters, "
        "shown in the reader's language",
        _reasons_as_parts,
        _reasons_as_parts,
    ),
)
LATEST = MIGRATIONS[-1].number


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def applied(conn, engine: str) -> int:
    """The number of the last migration recorded (0: none, or no table yet)."""
    if engine == SQLITE:
        if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'schema_migrations'").fetchone() is None:
            return 0
    elif conn.execute("SELECT to_regclass('schema_migrations')").fetchone()[0] is None:
        return 0
    return conn.execute("SELECT coalesce(max(number), 0) FROM schema_migrations").fetchone()[0]


def migrate(conn, engine: str) -> list[int]:
    """Run the migrations `conn`'s database lacks (sqlite3 in autocommit mode, or psycopg in autocommit
    mode); returns their numbers."""
    if applied(conn, engine) >= LATEST:
        return []
    if engine == SQLITE:
        conn.execute("BEGIN IMMEDIATE")
        try:
            done = _run(conn, engine, "?")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return done
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        return _run(conn, engine, "%s")


def _run(conn, engine: str, mark: str) -> list[int]:
    conn.execute(TABLE)
    start = applied(conn, engine)  # another process may have migrated while this one waited for the lock
    done = []
    for migration in MIGRATIONS[start:]:
        (migration.sqlite if engine == SQLITE else migration.postgresql)(conn)
        conn.execute(
            f"INSERT INTO schema_migrations (number, name, applied_at) VALUES ({mark}, {mark}, {mark})",
            (migration.number, migration.name, _now()),
        )
        done.append(migration.number)
    return done
