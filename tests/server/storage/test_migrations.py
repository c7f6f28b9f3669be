"""A database made by any older version upgrades to the same shape as a new one, on both engines; the
migrations are recorded, run once, and by one process at a time."""

import sqlite3

import pytest

from server.storage import desk_schema, feature_schema, migrations, ticket_schema
from server.storage.connection import connect_pg, connect_sqlite

LEDGER_ROWS = [
    ("2990000000001", "earn", 40, "base", "ticket:a:0", "a", "2026-01-02T10:00:00+00:00"),
    ("2990000000001", "redeem", -15, "redeem", "ticket:b:0", "b", "2026-01-03T10:00:00+00:00"),
    ("2990000000002", "earn", 7, "base", "ticket:c:0", "c", "2026-01-04T10:00:00+00:00"),
]


def first_release_sqlite(script: str) -> str:
    """The schema as the first releases made it: no ledger.lot_at, no users.session_version."""
    lot_at = (
        ",\n    lot_at TEXT  -- a credit that counts for expiry from another time (points moved keep their "
        "lot's); NULL = at"
    )
    return (
        script.replace(lot_at, "")
        .replace("\n    vat_rate INTEGER,", "")
        .replace(",\n    session_version INTEGER NOT NULL DEFAULT 0,\n    language TEXT", "")
    )


def first_release_pg(script: str) -> str:
    return (
        script.replace(",\n    lot_at TEXT\n", "\n")
        .replace("\n    vat_rate INTEGER,", "")
        .replace("ALTER TABLE ledger ADD COLUMN IF NOT EXISTS lot_at TEXT;\n", "")
        .replace(",\n    session_version INTEGER NOT NULL DEFAULT 0,\n    language TEXT", "")
    )


def sqlite_shape(conn) -> dict:
    objects = conn.execute(
        "SELECT type, name, tbl_name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name"
    ).fetchall()
    columns = {
        table: sorted(tuple(c[1:]) for c in conn.execute(f"PRAGMA table_info({table})"))
        for kind, table, _ in objects
        if kind == "table"
    }
    return {"objects": objects, "columns": columns}


def pg_shape(conn) -> dict:
    columns = conn.execute(
        "SELECT table_name, column_name, data_type, is_nullable, column_default "
        "FROM information_schema.columns WHERE table_schema = current_schema() "
        "ORDER BY 1, 2"
    ).fetchall()
    indexes = conn.execute(
        "SELECT tablename, indexname FROM pg_indexes WHERE schemaname = current_schema() ORDER BY 1, 2"
    ).fetchall()
    triggers = conn.execute(
        "SELECT DISTINCT event_object_table, trigger_name FROM information_schema.triggers ORDER BY 1, 2"
    ).fetchall()
    return {"columns": columns, "indexes": indexes, "triggers": triggers}


def test_the_statements_of_a_script_keep_trigger_bodies_whole():
    parts = migrations.statements(
        "CREATE TABLE t (a);\nCREATE TRIGGER x AFTER INSERT ON t BEGIN\n"
        "  UPDATE t SET a = 1;\n  UPDATE t SET a = 2;\nEND;\nCREATE INDEX i ON t (a);\n"
    )
    assert len(parts) == 3 and parts[1].startswith("CREATE TRIGGER") and parts[1].endswith("END;")


def test_a_first_release_sqlite_database_upgrades_to_the_new_shape(tmp_path):
    old = sqlite3.connect(tmp_path / "old.db")
    old.executescript(
        first_release_sqlite(
            ticket_schema.SQLITE_SCHEMA
            + ticket_schema.RETURNS_SCHEMA
            + ticket_schema.HELD_SCHEMA
            + desk_schema.DESK_SCHEMA
        )
    )
    assert "lot_at" not in {r[1] for r in old.execute("PRAGMA table_info(ledger)")}
    old.executemany(
        "INSERT INTO ledger (card, kind, points, rule, cause, ticket_id, at) VALUES (?, ?, ?, ?, ?, ?, ?)", LEDGER_ROWS
    )
    old.commit()
    old.close()

    upgraded = connect_sqlite(tmp_path / "old.db").conn
    new = connect_sqlite(tmp_path / "new.db").conn
    assert sqlite_shape(upgraded) == sqlite_shape(new)
    assert dict(upgraded.execute("SELECT card, points FROM card_points")) == {"2990000000001": 25, "2990000000002": 7}
    assert [r[0] for r in upgraded.execute("SELECT number FROM schema_migrations ORDER BY 1")] == [
        m.number for m in migrations.MIGRATIONS
    ]


def test_a_database_of_the_last_release_records_its_migrations_and_keeps_its_rows(tmp_path):
    """The release before migrations made every table with CREATE ... IF NOT EXISTS and added columns by hand."""
    old = sqlite3.connect(tmp_path / "last.db")
    old.executescript(
        ticket_schema.SQLITE_SCHEMA + ticket_schema.RETURNS_SCHEMA + ticket_schema.HELD_SCHEMA + desk_schema.DESK_SCHEMA
    )
    old.executemany(
        "INSERT INTO ledger (card, kind, points, rule, cause, ticket_id, at) VALUES (?, ?, ?, ?, ?, ?, ?)", LEDGER_ROWS
    )
    old.commit()
    old.close()
    conn = connect_sqlite(tmp_path / "last.db").conn
    assert migrations.applied(conn, migrations.SQLITE) == migrations.LATEST
    assert conn.execute("SELECT count(*) FROM ledger").fetchone()[0] == 3
    assert sqlite_shape(conn) == sqlite_shape(connect_sqlite(tmp_path / "new.db").conn)


def test_an_up_to_date_database_runs_nothing(tmp_path):
    conn = connect_sqlite(tmp_path / "s.db").conn
    stamps = conn.execute("SELECT number, applied_at FROM schema_migrations").fetchall()
    assert migrations.migrate(conn, migrations.SQLITE) == []
    assert conn.execute("SELECT number, applied_at FROM schema_migrations").fetchall() == stamps


def test_a_failed_migration_rolls_back_whole(tmp_path, monkeypatch):
    def broken(conn):
        conn.execute("CREATE TABLE half_done (x)")
        raise sqlite3.OperationalError("disk I/O error")

    conn = sqlite3.connect(tmp_path / "s.db", isolation_level=None)
    monkeypatch.setattr(
        migrations, "MIGRATIONS", migrations.MIGRATIONS[:1] + (migrations.Migration(2, "broken", broken, broken),)
    )
    monkeypatch.setattr(migrations, "LATEST", 2)
    with pytest.raises(sqlite3.OperationalError, match="disk I/O error"):
        migrations.migrate(conn, migrations.SQLITE)
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    assert "half_done" not in names and "tickets" not in names and "schema_migrations" not in names


def test_a_first_release_postgresql_database_upgrades_to_the_new_shape(postgres_server):
    old_url, new_url = postgres_server.create_database("mig_old"), postgres_server.create_database("mig_new")
    import psycopg

    with psycopg.connect(old_url, autocommit=True) as old:
        old.execute(
            first_release_pg(
                ticket_schema.PG_SCHEMA
                + ticket_schema.RETURNS_SCHEMA
                + ticket_schema.HELD_SCHEMA
                + desk_schema.DESK_SCHEMA_PG
            )
        )
        assert (
            old.execute(
                "SELECT count(*) FROM information_schema.columns WHERE table_name = 'ledger' AND column_name = 'lot_at'"
            ).fetchone()[0]
            == 0
        )
        old.cursor().executemany(
            "INSERT INTO ledger (card, kind, points, rule, cause, ticket_id, at) VALUES (%s, %s, %s, %s, %s, %s, %s)",
            LEDGER_ROWS,
        )
    upgraded, new = connect_pg(old_url), connect_pg(new_url)
    try:
        assert pg_shape(upgraded) == pg_shape(new)
        assert dict(upgraded.execute("SELECT card, points FROM card_points").fetchall()) == {
            "2990000000001": 25,
            "2990000000002": 7,
        }
        assert migrations.applied(upgraded, migrations.POSTGRESQL) == migrations.LATEST
        assert migrations.migrate(upgraded, migrations.POSTGRESQL) == []
    finally:
        upgraded.close()
        new.close()


def test_both_engines_have_the_same_tables_and_columns(tmp_path, postgres_url):
    """The ticket store's DDL is written per engine (PostgreSQL partitions tickets by month and keeps their
    keys in ticket_keys); a column added to one and not the other fails here."""
    lite = connect_sqlite(tmp_path / "s.db").conn
    pg = connect_pg(postgres_url)
    try:
        tables = [
            r[0]
            for r in lite.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
            )
        ]
        for table in tables:
            on_sqlite = {r[1] for r in lite.execute(f"PRAGMA table_info({table})")}
            on_pg = {
                r[0]
                for r in pg.execute(
                    "SELECT column_name FROM information_schema.columns WHERE "
                    "table_schema = current_schema() AND table_name = %s",
                    (table,),
                )
            }
            assert on_sqlite == on_pg, (
                f"{table}: only on SQLite {on_sqlite - on_pg}, only on PostgreSQL {on_pg - on_sqlite}"
            )
        pg_only = {
            r[0]
            for r in pg.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = "
                "current_schema() AND table_name NOT LIKE 'tickets_%'"
            )
        } - set(tables)
        # PostgreSQL's tickets have no rowid: triggers note new rows where the aggregates and the archive take them
        assert pg_only == {"ticket_keys", "aggregate_pending", "archive_pending_tickets", "archive_pending_ledger"}
    finally:
        pg.close()


FEATURE_TABLES = {
    "cheques", "cheque_spends", "reservations", "overdrafts", "till_status", "till_events", "catalogue_versions",
    "card_day", "store_day", "card_category", "aggregate_state", "dashboard_cache", "campaigns", "campaign_members",
    "nbo_offer_types", "nbo_choices", "profile_store_mix", "profile_ranks", "archive_target", "archive_batches",
    "dead_letter_replays",
}  # fmt: skip


def test_opening_a_new_database_brings_every_features_table(tmp_path, postgres_url):
    """No feature creates a table when it first runs: a reader finds every table there from the start."""
    lite = connect_sqlite(tmp_path / "s.db").conn
    on_sqlite = {r[0] for r in lite.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert FEATURE_TABLES - on_sqlite == set()
    pg = connect_pg(postgres_url)
    try:
        on_pg = {r[0] for r in pg.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")}
        assert FEATURE_TABLES - on_pg == set()
    finally:
        pg.close()


# What the last release's features made for themselves, as they made it: dashboard_cache before computed_at
# and campaigns before stopped_at (their modules added those columns when they found them missing).
def last_release_features(pg: bool) -> str:
    from server.storage.ddl import postgres_schema

    dashboard = (feature_schema.DASHBOARD_PG if pg else feature_schema.DASHBOARD).replace("    computed_at TEXT,\n", "")
    campaigns = feature_schema.CAMPAIGNS.replace(",\n    stopped_at TEXT\n", "\n")
    derived = postgres_schema if pg else (lambda script: script)
    assert "computed_at" not in dashboard and "stopped_at" not in campaigns.split("campaign_members")[0]
    return (
        derived(feature_schema.CHEQUES)
        + feature_schema.RESERVATIONS
        + derived(feature_schema.OVERDRAFTS)
        + feature_schema.TILL_STATUS
        + ";"
        + feature_schema.TILL_EVENTS
        + feature_schema.CATALOGUE
        + ";"
        + (feature_schema.AGGREGATES_PG + feature_schema.AGGREGATES_TRIGGER_PG if pg else feature_schema.AGGREGATES)
        + dashboard
        + derived(campaigns)
        + derived(feature_schema.OFFER_TYPES)
        + feature_schema.PROFILE
        + (feature_schema.ARCHIVE_PG if pg else feature_schema.ARCHIVE)
        + feature_schema.REPLAYS
    )


def test_a_database_of_the_last_release_with_its_features_tables_migrates_to_the_new_shape(tmp_path, monkeypatch):
    monkeypatch.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[:7])  # the last release's migrations
    monkeypatch.setattr(migrations, "LATEST", 7)
    old = connect_sqlite(tmp_path / "last.db").conn
    old.executescript(last_release_features(pg=False))
    old.execute(
        "INSERT INTO campaigns (name, segment, kind, starts, ends, control_per_mille, seed, created_at) "
        "VALUES ('spring', '{}', 'bonus_points', '2026-03-01', '2026-03-31', 100, 1, 't')"
    )
    old.close()
    monkeypatch.undo()
    upgraded = connect_sqlite(tmp_path / "last.db").conn
    assert sqlite_shape(upgraded) == sqlite_shape(connect_sqlite(tmp_path / "new.db").conn)
    assert upgraded.execute("SELECT name, stopped_at FROM campaigns").fetchall() == [("spring", None)]
    assert migrations.applied(upgraded, migrations.SQLITE) == migrations.LATEST


def test_a_postgresql_database_of_the_last_release_with_its_features_tables_migrates_to_the_new_shape(
    postgres_server, monkeypatch
):
    old_url = postgres_server.create_database("mig_last")
    new_url = postgres_server.create_database("mig_last_new")
    monkeypatch.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[:7])
    monkeypatch.setattr(migrations, "LATEST", 7)
    with connect_pg(old_url) as old:
        old.execute(last_release_features(pg=True))
    monkeypatch.undo()
    upgraded, new = connect_pg(old_url), connect_pg(new_url)
    try:
        assert pg_shape(upgraded) == pg_shape(new)
        assert migrations.applied(upgraded, migrations.POSTGRESQL) == migrations.LATEST
    finally:
        upgraded.close()
        new.close()
