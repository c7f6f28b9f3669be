"""server.storage.desk_db: the desk's tables on SQLite and on PostgreSQL, and all-or-nothing transactions on both."""

import pytest

from server.storage.connection import INTEGRITY_ERRORS, dialect
from server.storage.desk_db import open_db, transaction

DESK_TABLES = {"users", "api_tokens", "login_throttle", "customers", "cards", "audit"}


@pytest.fixture(params=["sqlite", "postgresql"])
def target(request, tmp_path):
    return str(tmp_path / "server.db") if request.param == "sqlite" else request.getfixturevalue("postgres_url")


def tables(conn) -> set[str]:
    if dialect(conn) == "sqlite":
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    return {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}


def test_open_db_creates_the_desk_tables_beside_the_ticket_store_and_opens_again(target):
    conn = open_db(target)
    assert DESK_TABLES | {"tickets", "ledger"} <= tables(conn)
    conn.close()
    again = open_db(target)  # the tables exist already: nothing to create, nothing lost
    assert DESK_TABLES <= tables(again)
    again.close()


def test_ids_come_from_insert_returning_on_both_engines(target):
    conn = open_db(target)
    with transaction(conn):
        first = conn.execute(
            "INSERT INTO customers (name, created_at, updated_at) VALUES (?, ?, ?) RETURNING id", ("Ann", "t", "t")
        ).fetchone()[0]
        second = conn.execute(
            "INSERT INTO customers (name, created_at, updated_at) VALUES (?, ?, ?) RETURNING id", ("Bob", "t", "t")
        ).fetchone()[0]
    assert (first, second) == (1, 2)
    row = conn.execute("SELECT id, name, consent_email FROM customers WHERE id = ?", (second,)).fetchone()
    assert dict(row) == {"id": 2, "name": "Bob", "consent_email": 0}
    conn.close()


def test_a_refused_transaction_leaves_nothing_and_the_connection_works_after(target):
    conn = open_db(target)
    with pytest.raises(INTEGRITY_ERRORS):
        with transaction(conn):
            conn.execute(
                "INSERT INTO users (name, role, password_hash, created_at) VALUES (?, ?, ?, ?)",
                ("ann", "card_manager", "h", "t"),
            )
            conn.execute(
                "INSERT INTO users (name, role, password_hash, created_at) VALUES (?, ?, ?, ?)",
                ("ann", "card_manager", "h", "t"),
            )  # duplicate name: refused by the database
    assert conn.execute("SELECT count(*) FROM users").fetchone()[0] == 0
    with transaction(conn):
        conn.execute(
            "INSERT INTO users (name, role, password_hash, created_at) VALUES (?, ?, ?, ?)",
            ("ann", "card_manager", "h", "t"),
        )
    assert conn.execute("SELECT name FROM users").fetchone()["name"] == "ann"
    conn.close()


def test_two_desks_issuing_the_same_card_at_once_give_one_card_and_one_clear_refusal(english, target):
    """SQLite's BEGIN IMMEDIATE makes one wait; on PostgreSQL the desk's transaction lock does the same."""
    import threading

    from server.desk import cards, customers
    from server.desk.errors import Conflict

    conn = open_db(target)
    form = {"name": "Ann", "email": "ann@example.org", "postcode": "75005"}
    ann, bob = customers.enrol(conn, form, "seed"), customers.enrol(conn, {**form, "name": "Bob"}, "seed")
    barrier, outcomes = threading.Barrier(2), {}

    def issue(customer_id):
        desk = open_db(target, create=False)
        try:
            barrier.wait(10)
            outcomes[customer_id] = cards.issue(desk, customer_id, "2900000000018", "desk")
        except Conflict as exc:
            outcomes[customer_id] = str(exc)
        finally:
            desk.close()

    threads = [threading.Thread(target=issue, args=(c,)) for c in (ann, bob)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    holder = conn.execute("SELECT customer_id FROM cards WHERE number = '2900000000018'").fetchone()[0]
    other = bob if holder == ann else ann
    assert outcomes == {
        holder: 0,
        other: f"card 2900000000018 is already registered to customer {holder}: give the customer another card",
    }
    conn.close()
