"""The SQL that SQLite and PostgreSQL spell differently, each said once and named after what it does.

Feature modules (desk, ingest, analytics) never ask which engine they run on (tests/test_layers.py checks it):
they call these helpers, which give the same results on both engines (tests/server/storage/test_sql.py runs
each on both). The engine-specific storage behind a helper (PostgreSQL's pending tables, its transaction
locks) is explained where it is made.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date, timezone

from server.storage.connection import POSTGRESQL, dialect


def _pg(conn) -> bool:
    return conn is not None and dialect(conn) == POSTGRESQL


# --- what the rows of a table look like on each engine -------------------------------------------------------


def rowid_order(conn) -> bool:
    """Whether new tickets are found by rowid (SQLite: a rowid that grows as rows are stored, so a watermark is
    the last rowid read). On PostgreSQL tickets have no rowid and concurrent writers commit ids out of order:
    a trigger notes each new ticket in a pending table (aggregate_pending, archive_pending_*) that a job
    takes from instead."""
    return not _pg(conn)


def ticket_by_id(conn, columns: str, ticket_id: str):
    """The row (`columns`) of ticket `ticket_id`, or None. PostgreSQL partitions tickets by month with no
    index on id alone: the ticket is found through ticket_keys' (terminal, seq)."""
    if _pg(conn):
        return conn.execute(
            f"SELECT {columns} FROM tickets WHERE (terminal, seq) = "
            "(SELECT terminal, seq FROM ticket_keys WHERE id = ?) AND id = ?",
            (ticket_id, ticket_id),
        ).fetchone()
    return conn.execute(f"SELECT {columns} FROM tickets WHERE id = ?", (ticket_id,)).fetchone()


def table_fingerprint(conn, table: str, key: str) -> str:
    """An expression (over `table`'s rows) that moves when a row comes or goes: SQLite's last rowid, a sum of
    the keys' hashes on PostgreSQL, where tables have no rowid."""
    return f"coalesce(sum(hashtext({key})), 0)" if _pg(conn) else "coalesce(max(rowid), 0)"


# --- expressions ----------------------------------------------------------------------------------------------


def utc_day(conn, instant: str) -> str:
    """The UTC day (YYYY-MM-DD text) of a ticket time: ISO text on SQLite, TIMESTAMPTZ on PostgreSQL."""
    return f"to_char({instant} AT TIME ZONE 'UTC', 'YYYY-MM-DD')" if _pg(conn) else f"substr({instant}, 1, 10)"


def within_hours(conn, later: str, earlier: str, hours: int) -> str:
    """A condition: `later` is at most `hours` after `earlier` (two ticket times)."""
    if _pg(conn):
        return f"{later} - {earlier} <= interval '{int(hours)} hour'"
    return f"julianday({later}) - julianday({earlier}) <= {int(hours)}.0 / 24"


def time_from(conn, day: date) -> tuple[str, str]:
    """(placeholder, value) of the first instant of `day` compared with a ticket time: the day's ISO text on
    SQLite (times are ISO text), midnight UTC as a TIMESTAMPTZ on PostgreSQL."""
    if _pg(conn):
        return "?::timestamptz", f"{day.isoformat()}T00:00:00+00:00"
    return "?", day.isoformat()


def times_as_text(conn, rows: Iterable, column: int) -> Iterator[tuple]:
    """Rows with the time in `column` as the ISO text (UTC) SQLite holds; PostgreSQL gives a datetime unless
    the connection already reads it as text (server.storage.desk_db.open_db's)."""
    if not _pg(conn):
        yield from rows
        return
    for row in rows:
        row = list(row)
        if not isinstance(row[column], str):
            row[column] = row[column].astimezone(timezone.utc).isoformat()
        yield tuple(row)


def by_bytes(conn, expression: str) -> str:
    """`expression` sorted as SQLite sorts text (byte order), whatever the PostgreSQL database's collation."""
    return f'{expression} COLLATE "C"' if _pg(conn) else expression


def joined(conn, expression: str, separator: str) -> str:
    """The aggregate joining a group's values: group_concat on SQLite, string_agg on PostgreSQL."""
    return f"string_agg({expression}, '{separator}')" if _pg(conn) else f"group_concat({expression}, '{separator}')"


def greatest(conn, *expressions: str) -> str:
    """The largest of several values in one row (SQLite's scalar max, PostgreSQL's greatest)."""
    return f"{'greatest' if _pg(conn) else 'max'}({', '.join(expressions)})"


def least(conn, *expressions: str) -> str:
    """The smallest of several values in one row (SQLite's scalar min, PostgreSQL's least)."""
    return f"{'least' if _pg(conn) else 'min'}({', '.join(expressions)})"


def whole(conn, expression: str) -> str:
    """A sum of integers read back as an integer (PostgreSQL's sum of bigints is numeric)."""
    return f"({expression})::bigint" if _pg(conn) else expression


def unindexed(conn, column: str) -> str:
    """`column` in a WHERE that SQLite must not answer from its index on it (`+column`: scanning in the
    table's key order is faster there); PostgreSQL's planner chooses on its own."""
    return column if _pg(conn) else f"+{column}"


def full_scan(conn, table: str) -> str:
    """`table` in a FROM read whole, in its key order: SQLite's NOT INDEXED; PostgreSQL's planner chooses."""
    return table if _pg(conn) else f"{table} NOT INDEXED"


# --- writes ---------------------------------------------------------------------------------------------------


def insert_rows(conn, table: str, rows: list[tuple], text_columns: int, int_columns: int, suffix: str = "") -> None:
    """INSERT rows (`text_columns` text values then `int_columns` integers each) into `table`, `suffix` after
    (an ON CONFLICT clause): executemany on SQLite; one statement over arrays on PostgreSQL, where a row per
    statement costs a round trip each."""
    if not rows:
        return
    if _pg(conn):
        arrays = ", ".join(["?::text[]"] * text_columns + ["?::bigint[]"] * int_columns)
        conn.execute(f"INSERT INTO {table} SELECT * FROM unnest({arrays}) {suffix}", [list(c) for c in zip(*rows)])
    else:
        marks = ", ".join("?" * (text_columns + int_columns))
        conn.executemany(f"INSERT INTO {table} VALUES ({marks}) {suffix}", rows)


def plain_rows(conn, sql: str, params: tuple) -> list[tuple]:
    """Rows as plain tuples, fast: sqlite3's default rows, or psycopg's tuple rows under the PgConnection."""
    if _pg(conn):
        from psycopg.rows import tuple_row

        with conn.raw.cursor(row_factory=tuple_row) as cursor:
            cursor.execute(sql.replace("?", "%s"), params)
            return cursor.fetchall()
    cursor = conn.cursor()
    cursor.row_factory = None
    return cursor.execute(sql, params).fetchall()


# --- locks (inside a transaction: SQLite's BEGIN IMMEDIATE already holds its one write lock) ------------------


def lock_key(conn, key: str) -> None:
    """Writers that name the same `key` (a card, a cheque) take turns until this transaction ends."""
    if _pg(conn):
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(?))", (key,))


def lock_table(conn, table: str) -> None:
    """Writers of `table` take turns until this transaction ends (readers are not held)."""
    if _pg(conn):
        conn.execute(f"LOCK TABLE {table} IN EXCLUSIVE MODE")
