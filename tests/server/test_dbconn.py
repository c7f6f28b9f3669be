"""server.storage.connection: the sqlite3 API on both engines, as the desk and the office use it."""

import pytest

from server.storage.connection import dialect, open_connection, translate
from server.errors import StoreError


@pytest.fixture(params=["sqlite", "postgresql"])
def conn(request, tmp_path):
    target = str(tmp_path / "server.db") if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    opened = open_connection(target)
    key = "INTEGER PRIMARY KEY" if dialect(opened) == "sqlite" else "BIGSERIAL PRIMARY KEY"
    opened.executescript(f"CREATE TABLE notes (id {key}, name TEXT NOT NULL UNIQUE, n INTEGER NOT NULL);")
    yield opened
    opened.close()


def test_rows_read_by_index_and_by_name(conn):
    conn.execute("BEGIN IMMEDIATE")
    made = conn.execute("INSERT INTO notes (name, n) VALUES (?, ?) RETURNING id", ("a", 1)).fetchone()
    conn.execute("COMMIT")
    row = conn.execute("SELECT id, name, n FROM notes WHERE name = ?", ("a",)).fetchone()
    assert (made[0], row[0], row["name"], dict(row)) == (1, 1, "a", {"id": 1, "name": "a", "n": 1})
    assert list(row.keys()) == ["id", "name", "n"]


def test_insert_or_ignore_keeps_the_first(conn):
    conn.execute("INSERT OR IGNORE INTO notes (name, n) VALUES (?, ?)", ("a", 1))
    conn.execute("INSERT OR IGNORE INTO notes (name, n) VALUES (?, ?)", ("a", 2))
    assert [tuple(r) for r in conn.execute("SELECT name, n FROM notes")] == [("a", 1)]


def test_a_failed_transaction_rolls_back_whole(conn):
    with pytest.raises(ValueError):
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute("INSERT INTO notes (name, n) VALUES (?, ?)", ("a", 1))
            raise ValueError("refused")
        except ValueError:
            conn.execute("ROLLBACK")
            raise
    assert conn.execute("SELECT count(*) FROM notes").fetchone()[0] == 0


def test_percent_in_a_pattern_is_a_parameter_not_a_placeholder(conn):
    conn.executemany("INSERT INTO notes (name, n) VALUES (?, ?)", [("50% off", 1), ("plain", 2)])
    assert [r["name"] for r in conn.execute("SELECT name FROM notes WHERE name LIKE ?", ("%off",))] == ["50% off"]
    assert conn.execute("SELECT count(*) FROM notes WHERE name LIKE '%off'").fetchone()[0] == 1


def test_translate_puts_on_conflict_before_returning():
    assert (
        translate("INSERT OR IGNORE INTO t (a) VALUES (?) RETURNING id")
        == "INSERT INTO t (a) VALUES (%s) ON CONFLICT DO NOTHING RETURNING id"
    )
    assert translate("BEGIN IMMEDIATE") == "BEGIN"


def test_lastrowid_says_what_to_write_instead(tmp_path, postgres_url):
    conn = open_connection(postgres_url)
    cur = conn.execute("SELECT 1")
    with pytest.raises(StoreError, match="write INSERT ... RETURNING id"):
        cur.lastrowid
    conn.close()
