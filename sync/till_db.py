"""The till's journal file, opened one way by every part of the till (the sale, the outbox sender, the
downlink, the rules listener, the status reporter, the checkpointer): private (0600, and so its -wal and -shm
files: it holds card numbers and purchases), WAL, synchronous=FULL (a closed ticket survives a power cut), and
a 30 s wait for another writer; and the one way to write in a transaction there."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .safe_files import connect_private

BUSY_TIMEOUT_S = 30


def open_till_db(path: str | Path, *, autocommit: bool = False, any_thread: bool = False) -> sqlite3.Connection:
    """A connection to the till's journal. `autocommit`: no implicit transactions (BEGIN is written where
    one is wanted); `any_thread`: the connection is used from a thread other than the one that opened it
    (paho's callbacks)."""
    conn = connect_private(
        path,
        timeout=BUSY_TIMEOUT_S,
        check_same_thread=not any_thread,
        **({"isolation_level": None} if autocommit else {}),
    )
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    return conn


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """All or nothing on an `autocommit` connection: the write lock taken at once (BEGIN IMMEDIATE, so a read
    that turns into a write waits for the other writer instead of failing), committed at the block's end,
    rolled back whole if it raises."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
