"""The desk's tables beside the ticket store, in the same database; one connection and transaction helper.

server/ingest/store.py (SQLite) and server/ingest/store_pg.py (PostgreSQL) own tickets, lines and the ledger; the desk
only adds its own tables (users, customers, cards, audit) and appends ledger entries through the same table.
`open_db(target)` takes a SQLite file path or a postgresql:// URL; the connection has sqlite3's API on
both (server/storage/connection.py), and SQL that must differ asks `dialect(conn)`.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from functools import cache
from pathlib import Path

from server.storage.connection import POSTGRESQL, connect_postgres, dialect, has_column, is_postgres, open_connection, postgres_schema

DESK_SCHEMA_LOCK = 0x10CA19  # advisory lock ids: the desk's tables are created by one process at a time,
DESK_WRITE_LOCK = 0x10CA1A  # and its actions write one at a time

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at TEXT NOT NULL,
    active INTEGER NOT NULL DEFAULT 1,
    session_version INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS api_tokens (
    token_hash TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users (id),
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS login_throttle (
    name TEXT NOT NULL,
    address TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_at TEXT NOT NULL,
    last_at TEXT NOT NULL,
    PRIMARY KEY (name, address)
);
CREATE TABLE IF NOT EXISTS customers (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    email TEXT,
    phone TEXT,
    postcode TEXT,
    birth_date TEXT,
    consent_email INTEGER NOT NULL DEFAULT 0,
    consent_email_at TEXT,
    consent_sms INTEGER NOT NULL DEFAULT 0,
    consent_sms_at TEXT,
    consent_profiling INTEGER NOT NULL DEFAULT 0,
    consent_profiling_at TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    merged_into INTEGER REFERENCES customers (id),
    erased_at TEXT
);
CREATE INDEX IF NOT EXISTS customers_name ON customers (name COLLATE NOCASE);
CREATE INDEX IF NOT EXISTS customers_phone ON customers (phone);
CREATE INDEX IF NOT EXISTS customers_postcode ON customers (postcode);
CREATE TABLE IF NOT EXISTS cards (
    number TEXT PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers (id),
    status TEXT NOT NULL,
    issued_at TEXT NOT NULL,
    status_at TEXT NOT NULL,
    replaced_by TEXT
);
CREATE INDEX IF NOT EXISTS cards_customer ON cards (customer_id);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    customer_id INTEGER,
    card TEXT,
    reason TEXT NOT NULL DEFAULT '',
    detail TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS audit_customer ON audit (customer_id);
"""


SCHEMA_PG = postgres_schema(SCHEMA)  # the same tables in PostgreSQL's spelling (server.storage.connection)
# Columns added after the first release: (table, column, definition), added to an older database when opened.
LATER_COLUMNS = (
    ("users", "session_version", "INTEGER NOT NULL DEFAULT 0"),  # log-out, password change... end sessions
)


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def open_db(target: str | Path, create: bool = True):
    """A connection to the server's database with the desk's tables: a sqlite3.Connection (rows as
    sqlite3.Row) for a file path, a dbconn.PgConnection for a postgresql:// URL.

    create=False skips creating the tables (on PostgreSQL, DDL takes locks that wait for ingest's writes):
    the web app creates them once at start and opens its requests' connections without."""
    if not is_postgres(target):
        conn = open_connection(target)
        if create:
            conn.executescript(SCHEMA)
            if _missing_columns(conn):
                with transaction(conn):  # BEGIN IMMEDIATE: two processes opening an old file add them once
                    _add_later_columns(conn)
        return conn
    conn = connect_postgres(str(target), schema=create)
    configure_pg(conn.raw)
    if create:
        with conn:
            conn.execute("SELECT pg_advisory_xact_lock(?)", (DESK_SCHEMA_LOCK,))
            conn.executescript(SCHEMA_PG)
            _add_later_columns(conn)
    return conn


def _missing_columns(conn) -> list[tuple[str, str, str]]:
    return [later for later in LATER_COLUMNS if not has_column(conn, later[0], later[1])]


def _add_later_columns(conn) -> None:
    """An older database gets the columns added since it was made (inside the caller's transaction)."""
    for table, column, definition in _missing_columns(conn):
        conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {definition}")


def configure_pg(raw) -> None:
    """Ticket times are TIMESTAMPTZ on PostgreSQL, ISO text on SQLite: read them as the same text."""
    raw.adapters.register_loader("timestamptz", _iso_utc_text())


@cache
def _iso_utc_text():
    """psycopg's loader class, made on the first PostgreSQL connection (SQLite users never import psycopg)."""
    from psycopg.types.datetime import TimestamptzLoader

    class IsoUtcText(TimestamptzLoader):
        """A TIMESTAMPTZ read as `2026-11-22T10:00:00+00:00`, the text SQLite holds for the same ticket."""

        def load(self, data) -> str:
            return super().load(data).astimezone(timezone.utc).isoformat()

    return IsoUtcText


def is_pg(conn) -> bool:
    return dialect(conn) == POSTGRESQL


def by_bytes(conn, expression: str) -> str:
    """`expression` sorted as SQLite sorts text (byte order), whatever the PostgreSQL database's collation."""
    return f'{expression} COLLATE "C"' if is_pg(conn) else expression


def joined(conn, expression: str, separator: str) -> str:
    """The aggregate joining a group's values: group_concat on SQLite, string_agg on PostgreSQL."""
    return f"string_agg({expression}, '{separator}')" if is_pg(conn) else f"group_concat({expression}, '{separator}')"


@contextmanager
def transaction(conn) -> Iterator:
    """All or nothing: a refused action leaves nothing half-written (on PostgreSQL too: after an error
    every statement fails until ROLLBACK, which this always sends).

    One desk action at a time, as SQLite's BEGIN IMMEDIATE gives: on PostgreSQL a transaction lock, so what
    an action checks first (the card is free, the balance is enough) still holds when it writes."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        if is_pg(conn):
            conn.execute("SELECT pg_advisory_xact_lock(?)", (DESK_WRITE_LOCK,))
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
