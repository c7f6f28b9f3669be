"""server.storage.sql: each helper gives the same result on SQLite and on PostgreSQL."""

from datetime import date

import pytest

from server.storage import sql
from server.storage.connection import dialect
from server.storage.desk_db import open_db

TIMES = ["2026-03-01T23:30:00+00:00", "2026-03-02T00:20:00+00:00", "2026-03-02T02:00:00+00:00"]


@pytest.fixture(params=["sqlite", "postgresql"])
def conn(request, tmp_path):
    target = str(tmp_path / "server.db") if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    conn = open_db(target)
    kind = "TEXT" if dialect(conn) == "sqlite" else "TIMESTAMPTZ"  # how each engine keeps a ticket's time
    conn.execute(f"CREATE TABLE times (n INTEGER PRIMARY KEY, at {kind} NOT NULL)")
    conn.executemany("INSERT INTO times (n, at) VALUES (?, ?)", list(enumerate(TIMES)))
    yield conn
    conn.close()


def test_the_utc_day_of_a_time(conn):
    assert [r[0] for r in conn.execute(f"SELECT {sql.utc_day(conn, 'at')} FROM times ORDER BY n")] == [
        "2026-03-01",
        "2026-03-02",
        "2026-03-02",
    ]


def test_times_within_an_hour(conn):
    near = sql.within_hours(conn, "b.at", "a.at", 1)
    pairs = conn.execute(f"SELECT a.n, b.n FROM times a JOIN times b ON b.at > a.at AND {near} ORDER BY 1, 2")
    assert [tuple(r) for r in pairs] == [(0, 1)]


def test_a_day_bound_compared_with_times(conn):
    mark, value = sql.time_from(conn, date(2026, 3, 2))
    rows = conn.execute(f"SELECT n FROM times WHERE at >= {mark} ORDER BY n", (value,))
    assert [r[0] for r in rows] == [1, 2]
    texts = list(sql.times_as_text(conn, conn.execute("SELECT n, at FROM times ORDER BY n"), 1))
    assert [t[1] for t in texts] == TIMES


def test_scalar_greatest_and_least_summed_as_integers(conn):
    conn.execute("CREATE TABLE pairs (a BIGINT NOT NULL, b BIGINT NOT NULL)")
    conn.executemany("INSERT INTO pairs VALUES (?, ?)", [(5, 3), (-2, 4), (7, 9)])
    values = "pairs"
    total = sql.whole(conn, f"coalesce(sum({sql.greatest(conn, sql.least(conn, 'a', 'b'), '0')}), 0)")
    assert conn.execute(f"SELECT {total} FROM {values}").fetchone()[0] == 10
    assert isinstance(conn.execute(f"SELECT {total} FROM {values}").fetchone()[0], int)


def test_text_in_byte_order_and_joined(conn):
    conn.execute("CREATE TABLE words (w TEXT NOT NULL)")
    conn.executemany("INSERT INTO words VALUES (?)", [("a",), ("B",), ("_",)])
    assert [r[0] for r in conn.execute(f"SELECT w FROM words ORDER BY {sql.by_bytes(conn, 'w')}")] == ["B", "_", "a"]
    joined = conn.execute(f"SELECT {sql.joined(conn, 'w', ',')} FROM words").fetchone()[0]
    assert sorted(joined.split(",")) == ["B", "_", "a"]


def test_index_hints_read_the_same_rows(conn):
    day = sql.unindexed(conn, "n")
    rows = conn.execute(f"SELECT n FROM {sql.full_scan(conn, 'times')} WHERE {day} >= ? ORDER BY n", (1,))
    assert [r[0] for r in rows] == [1, 2]


def test_rows_inserted_and_added_to_on_conflict(conn):
    conn.execute("CREATE TABLE sums (k TEXT PRIMARY KEY, v BIGINT NOT NULL)")
    upsert = "ON CONFLICT(k) DO UPDATE SET v = sums.v + excluded.v"
    sql.insert_rows(conn, "sums", [("a", 1), ("b", 2)], 1, 1, upsert)
    sql.insert_rows(conn, "sums", [("a", 10)], 1, 1, upsert)
    sql.insert_rows(conn, "sums", [], 1, 1, upsert)
    assert sql.plain_rows(conn, "SELECT k, v FROM sums WHERE v > ? ORDER BY k", (0,)) == [("a", 11), ("b", 2)]


def test_a_table_fingerprint_moves_when_a_row_comes(conn):
    conn.execute("CREATE TABLE numbers (number TEXT PRIMARY KEY)")
    fingerprint = f"SELECT {sql.table_fingerprint(conn, 'numbers', 'number')} FROM numbers"
    before = conn.execute(fingerprint).fetchone()[0]
    conn.execute("INSERT INTO numbers VALUES ('2990000000001')")
    assert conn.execute(fingerprint).fetchone()[0] != before


def test_locks_are_taken_inside_a_transaction_on_both_engines(conn):
    with conn:
        sql.lock_key(conn, "card:1")
        sql.lock_table(conn, "times")
        conn.execute("INSERT INTO times (n, at) VALUES (?, ?)", (5, TIMES[0]))
    assert conn.execute("SELECT count(*) FROM times").fetchone()[0] == 4
