"""Tables a feature creates when they are missing (before numbered migrations, server.storage.migrations, took
over the core schema), and times written so that SQL compares them as text."""

from __future__ import annotations

from datetime import datetime

from server.storage.connection import POSTGRESQL, dialect, has_table
from server.storage.ddl import postgres_schema


def iso(moment: datetime) -> str:
    """Times compared as text in SQL: always the same width (microseconds, UTC offset)."""
    return moment.isoformat(timespec="microseconds")


def ensure_schema(conn, script: str, lock: str) -> None:
    """Create the tables of `script` (SQLite's spelling; PostgreSQL's derived, server.storage.ddl) when missing,
    inside the caller's transaction if one is open (no commit)."""
    first = script.split("EXISTS", 1)[1].split("(", 1)[0].strip()
    if has_table(conn, first):
        return
    if dialect(conn) == POSTGRESQL:
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(?))", (lock,))
        script = postgres_schema(script)
    for statement in filter(str.strip, script.split(";")):
        conn.execute(statement)
