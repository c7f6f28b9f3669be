"""server.storage.connection.transaction, the one way the server opens a transaction: all or nothing on
both engines, joined when asked, a snapshot and a lock where PostgreSQL needs them."""

import sqlite3

import pytest

from server.storage.connection import transaction
from server.storage.desk_db import open_db
from sync.till_db import open_till_db
from sync.till_db import transaction as till_transaction


@pytest.fixture(params=["sqlite", "postgresql"])
def conn(request, tmp_path):
    target = str(tmp_path / "server.db") if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    conn = open_db(target)
    conn.execute("CREATE TABLE notes (n INTEGER PRIMARY KEY, text TEXT NOT NULL)")
    yield conn
    conn.close()


def notes(conn) -> list:
    return [tuple(r) for r in conn.execute("SELECT n, text FROM notes ORDER BY n")]


def test_a_block_that_ends_commits_every_write(conn):
    with transaction(conn):
        conn.execute("INSERT INTO notes VALUES (1, 'a')")
        conn.execute("INSERT INTO notes VALUES (2, 'b')")
    assert not conn.in_transaction
    assert notes(conn) == [(1, "a"), (2, "b")]


@pytest.mark.parametrize("options", [{}, {"immediate": False}, {"snapshot": True}, {"lock": 0x10CA1C}])
def test_a_failure_midway_rolls_back_whole(conn, options):
    with pytest.raises(RuntimeError, match="the printer caught fire"):
        with transaction(conn, **options):
            conn.execute("INSERT INTO notes VALUES (1, 'a')")
            raise RuntimeError("the printer caught fire")
    assert not conn.in_transaction
    assert notes(conn) == []


def test_a_refused_statement_midway_rolls_back_whole_and_the_connection_goes_on(conn):
    from server.storage.connection import INTEGRITY_ERRORS

    with pytest.raises(INTEGRITY_ERRORS):
        with transaction(conn):
            conn.execute("INSERT INTO notes VALUES (1, 'a')")
            conn.execute("INSERT INTO notes VALUES (1, 'again')")
    assert notes(conn) == []
    with transaction(conn):
        conn.execute("INSERT INTO notes VALUES (2, 'b')")
    assert notes(conn) == [(2, "b")]


def test_joined_runs_in_the_callers_transaction_which_decides(conn):
    with pytest.raises(RuntimeError):
        with transaction(conn):
            with transaction(conn, join=True):
                conn.execute("INSERT INTO notes VALUES (1, 'a')")
            assert conn.in_transaction  # the joined block neither committed nor ended it
            raise RuntimeError("stop")
    assert notes(conn) == []


def test_sqlite_takes_the_write_lock_at_once(tmp_path):
    conn = open_db(str(tmp_path / "server.db"))
    other = sqlite3.connect(tmp_path / "server.db", timeout=0, isolation_level=None)
    with transaction(conn):
        with pytest.raises(sqlite3.OperationalError, match="database is locked"):
            other.execute("BEGIN IMMEDIATE")
    with transaction(conn, immediate=False):  # a reader: other writers go on
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
    other.close()
    conn.close()


def test_the_till_journal_transaction_rolls_back_whole(tmp_path):
    conn = open_till_db(tmp_path / "journal.db", autocommit=True)
    conn.execute("CREATE TABLE notes (n INTEGER PRIMARY KEY)")
    with pytest.raises(RuntimeError):
        with till_transaction(conn):
            conn.execute("INSERT INTO notes VALUES (1)")
            raise RuntimeError("power cut")
    with till_transaction(conn):
        conn.execute("INSERT INTO notes VALUES (2)")
    assert [r[0] for r in conn.execute("SELECT n FROM notes")] == [2]
    conn.close()
