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
from server.storage import feature_schema as features
from server.storage.ddl import postgres_schema

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


def _nothing(conn) -> None:
    """The engine's earlier migration already holds this change."""


def _steps(*steps: Callable[[object], None]) -> Callable[[object], None]:
    def run(conn) -> None:
        for step in steps:
            step(conn)

    return run


def _pg_aggregates(conn) -> None:
    """The aggregates' tables; the trigger noting new tickets, with the tickets stored before it, once."""
    conn.execute(features.AGGREGATES_PG)
    trigger = "SELECT 1 FROM pg_trigger WHERE tgname = 'tickets_aggregate_pending' AND tgrelid = 'tickets'::regclass"
    if conn.execute(trigger).fetchone() is None:
        conn.execute(features.AGGREGATES_TRIGGER_PG)


def _pg_archive(conn) -> None:
    """The archive's tables, and its triggers with the rows stored before them, unless an older version made
    them (all in one go, so archive_batches stands for all)."""
    if conn.execute("SELECT to_regclass('archive_batches')").fetchone()[0] is None:
        conn.execute(features.ARCHIVE_PG)


# Column additions the same on both engines.
_OFFER_CONDITIONS = _steps(
    _add_column("campaigns", "category", "TEXT NOT NULL DEFAULT ''"),
    _add_column("campaigns", "min_basket_cents", "INTEGER NOT NULL DEFAULT 0"),
    _add_column("nbo_offer_types", "min_basket_cents", "INTEGER NOT NULL DEFAULT 0"),
)
_REASON_PARTS = _steps(
    _add_column("discrepancies", "reason_json", "TEXT"), _add_column("nbo_offer_types", "stopped_json", "TEXT")
)

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
    # The features' tables, which each feature made itself when missing before these migrations: IF NOT EXISTS,
    # and the columns they added to their tables later, so a database of any version ends the same.
    Migration(
        8,
        "cheques and cheque_spends: the loyalty cheques head office knows",
        _sqlite_script(features.CHEQUES),
        _pg_script(postgres_schema(features.CHEQUES)),
    ),
    Migration(
        9,
        "reservations and overdrafts: points held by tills online, cards overdrawn",
        _sqlite_script(features.RESERVATIONS + features.OVERDRAFTS),
        _pg_script(features.RESERVATIONS + postgres_schema(features.OVERDRAFTS)),
    ),
    Migration(
        10,
        "till_status and till_events: what each till reports, and its journal events",
        _sqlite_script(features.TILL_STATUS + ";" + features.TILL_EVENTS),
        _pg_script(features.TILL_STATUS + ";" + features.TILL_EVENTS),
    ),
    Migration(
        11,
        "catalogue_versions: the article catalogue's versions",
        _sqlite_script(features.CATALOGUE),
        _pg_script(features.CATALOGUE),
    ),
    Migration(
        12,
        "the office's daily aggregates (card_day, store_day, card_category; PostgreSQL: aggregate_pending)",
        _sqlite_script(features.AGGREGATES),
        _pg_aggregates,
    ),
    Migration(
        13,
        "dashboard_cache, with computed_at",
        _steps(_sqlite_script(features.DASHBOARD), _add_column("dashboard_cache", "computed_at", "TEXT")),
        _steps(_pg_script(features.DASHBOARD_PG), _add_column("dashboard_cache", "computed_at", "TEXT")),
    ),
    Migration(
        14,
        "campaigns and campaign_members, with campaigns.stopped_at",
        _steps(_sqlite_script(features.CAMPAIGNS), _add_column("campaigns", "stopped_at", "TEXT")),
        _steps(_pg_script(postgres_schema(features.CAMPAIGNS)), _add_column("campaigns", "stopped_at", "TEXT")),
    ),
    Migration(
        15,
        "nbo_offer_types and nbo_choices: the next best offers",
        _sqlite_script(features.OFFER_TYPES),
        _pg_script(postgres_schema(features.OFFER_TYPES)),
    ),
    Migration(
        16,
        "profile_store_mix and profile_ranks: the customer page's daily snapshot",
        _sqlite_script(features.PROFILE),
        _pg_script(features.PROFILE),
    ),
    Migration(
        17,
        "archive_target and archive_batches (PostgreSQL: the rows each batch will take)",
        _sqlite_script(features.ARCHIVE),
        _pg_archive,
    ),
    Migration(
        18,
        "dead_letter_replays",
        _sqlite_script(features.REPLAYS),
        _pg_script(features.REPLAYS),
    ),
    Migration(
        19,
        "offers' conditions: campaigns.category and min_basket_cents, nbo_offer_types.min_basket_cents",
        _OFFER_CONDITIONS,
        _OFFER_CONDITIONS,
    ),
    Migration(
        20,
        "closures: the closures imported from tills' archives",
        _sqlite_script(features.CLOSURES),
        _pg_script(postgres_schema(features.CLOSURES).replace(" BLOB ", " BYTEA ")),
    ),
    Migration(
        21,
        "discrepancies.reason_json, nbo_offer_types.stopped_json: head office's reasons as codes and parameters, "
        "shown in the reader's language",
        _REASON_PARTS,
        _REASON_PARTS,
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
