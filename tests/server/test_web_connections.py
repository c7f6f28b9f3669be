"""The web app's connections on PostgreSQL: kept between requests, handed back clean, replaced when dead."""

import pytest

from ..fixtures.desk import ENROL  # noqa: F401 - fixtures


@pytest.fixture
def desk_engine():
    return "postgresql"


def backends(desk) -> int:
    return desk.conn.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
    ).fetchone()[0]


def test_requests_share_the_kept_connections(desk):
    client = desk.client("card_manager")
    for _ in range(5):
        assert client.get("/customers").status_code == 200
    assert backends(desk) == 1  # one request at a time: one connection, kept


def test_a_connection_left_in_a_failed_transaction_comes_back_clean(desk):
    connections = desk.app.extensions["desk_connections"]
    conn = connections.take()
    conn.execute("BEGIN")
    with pytest.raises(Exception, match="no_such_table"):
        conn.execute("SELECT * FROM no_such_table")
    connections.give_back(conn)
    again = connections.take()
    assert again.raw is conn.raw and not again.in_transaction
    assert again.execute("SELECT count(*) FROM customers").fetchone()[0] == 0
    connections.give_back(again)


def test_a_connection_postgresql_closed_is_replaced_without_an_error_page(desk):
    client = desk.client("card_manager")
    assert client.get("/customers").status_code == 200
    desk.conn.execute(
        "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE datname = current_database() "
        "AND pid <> pg_backend_pid()"
    )  # as a restart or an idle timeout would
    response = desk.post(client, "/customers/new", **ENROL)
    assert response.status_code == 302 and desk.count("customers") == 1
