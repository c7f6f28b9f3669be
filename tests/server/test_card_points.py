"""card_points: each card's balance kept by the database as the ledger changes, on both backends."""

import sqlite3
import tempfile
from pathlib import Path

from hypothesis import given, settings, strategies as st

from server.storage.connection import connect_sqlite as connect
from server.ingest.store_api import open_store

from .test_store import ingest, till_messages

LEDGER_INSERT = "INSERT INTO ledger (card, kind, points, rule, cause, ticket_id, at) VALUES (?, ?, ?, ?, ?, NULL, ?)"


def sums(conn) -> dict[str, int]:
    return {card: points for card, points in conn.execute("SELECT card, sum(points) FROM ledger GROUP BY card")}


def kept(conn) -> dict[str, int]:
    return {card: points for card, points in conn.execute("SELECT card, points FROM card_points") if points}


def test_ingest_and_desk_entries_keep_each_balance(tmp_path, store):
    ingest(store, till_messages(tmp_path, 40))
    conn = store.conn
    earned = sums(conn)
    assert len(earned) > 10 and kept(conn) == earned
    card = sorted(earned)[0]
    with conn:
        conn.execute(LEDGER_INSERT, (card, "adjust", 250, "desk", "correction:1", "2026-11-23T12:00:00+00:00"))
    assert store.balances([card]) == {card: earned[card] + 250}
    with conn:
        conn.execute("UPDATE ledger SET points = points - 50 WHERE cause = 'correction:1'")
    assert store.balances([card]) == {card: earned[card] + 200}
    with conn:
        conn.execute("DELETE FROM ledger WHERE cause = 'correction:1'")
    assert store.balances([card]) == {card: earned[card]} and kept(conn) == sums(conn)


def test_a_database_made_before_card_points_gets_its_balances_once(tmp_path, store):
    ingest(store, till_messages(tmp_path, 20))
    conn, target = store.conn, store.path
    if target.startswith("postgresql://"):
        with conn:
            conn.execute("DROP TABLE card_points")
            conn.execute("DROP FUNCTION ledger_points_in, ledger_points_out, ledger_points_change CASCADE")
    else:
        for trigger in ("ledger_points_in", "ledger_points_out", "ledger_points_change"):
            conn.execute(f"DROP TRIGGER {trigger}")
        conn.execute("DROP TABLE card_points")
    conn.execute("DROP TABLE schema_migrations")  # nor were migrations recorded then
    with conn:
        conn.execute(
            LEDGER_INSERT, ("2900000000018", "adjust", 75, "desk", "correction:old", "2026-11-01T00:00:00+00:00")
        )
    before = sums(conn)
    store.close()
    more = tmp_path / "more"
    more.mkdir()
    reopened = open_store(target)
    try:
        assert kept(reopened.conn) == before and before["2900000000018"] == 75
        ingest(reopened, till_messages(more, 5, terminal="S001-T02"))
        assert kept(reopened.conn) == sums(reopened.conn) != before
    finally:
        reopened.close()


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["insert", "update", "move", "delete"]), st.integers(0, 4), st.integers(-500, 500)),
        max_size=30,
    )
)
def test_any_sequence_of_ledger_changes_keeps_the_sums(operations):
    with tempfile.TemporaryDirectory() as tmp:
        conn: sqlite3.Connection = connect(Path(tmp) / "server.db").conn
        cards = [f"29000000000{n}" for n in range(5)]
        for n, (operation, which, points) in enumerate(operations):
            card = cards[which]
            if operation == "insert":
                conn.execute(LEDGER_INSERT, (card, "earn", points, "r", f"c{n}", "2026-11-23T00:00:00+00:00"))
            elif operation == "update":
                conn.execute(
                    "UPDATE ledger SET points = ? WHERE id = (SELECT min(id) FROM ledger WHERE card = ?)",
                    (points, card),
                )
            elif operation == "move":
                conn.execute("UPDATE ledger SET card = ? WHERE id = (SELECT max(id) FROM ledger)", (card,))
            else:
                conn.execute("DELETE FROM ledger WHERE id = (SELECT min(id) FROM ledger WHERE card = ?)", (card,))
        assert kept(conn) == {card: points for card, points in sums(conn).items() if points}
        conn.close()
