"""The desk's connection to the server's database, and its transaction helper.

The ticket store (server.ingest.store on SQLite, server.ingest.store_pg on PostgreSQL) writes tickets, lines and the
ledger; the desk has its own tables (server.storage.desk_schema) and appends ledger entries to the same table.
`open_db(target)` takes a SQLite file path or a postgresql:// URL; the connection has sqlite3's API on
both (server/storage/connection.py), and SQL that must differ is said in server/storage/sql.py.
"""

from __future__ import annotations

from datetime import datetime, timezone
from functools import cache
from pathlib import Path

from server.storage.connection import (
    connect_postgres,
    is_postgres,
    open_connection,
)
from server.storage.connection import transaction as storage_transaction

DESK_WRITE_LOCK = 0x10CA1A  # advisory lock id: the desk's actions write one at a time


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def open_db(target: str | Path, create: bool = True):
    """A connection to the server's database with the desk's tables: a sqlite3.Connection (rows as
    sqlite3.Row) for a file path, a PgConnection for a postgresql:// URL.

    create=False does not run the migrations on PostgreSQL (DDL takes locks that wait for ingest's writes):
    the web app runs them once at start and opens its requests' connections without. On SQLite they cost one
    query once the database is up to date."""
    if not is_postgres(target):
        return open_connection(target)
    conn = connect_postgres(str(target), schema=create)
    configure_pg(conn.raw)
    return conn


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


def transaction(conn):
    """A desk action, all or nothing (server.storage.connection.transaction), and one at a time, as SQLite's
    BEGIN IMMEDIATE gives: on PostgreSQL a transaction lock, so what an action checks first (the card is free,
    the balance is enough) still holds when it writes."""
    return storage_transaction(conn, lock=DESK_WRITE_LOCK)
