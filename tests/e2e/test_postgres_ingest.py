"""Tills sync over a real Mosquitto into the server's store on a real PostgreSQL."""

import pytest
from click.testing import CliRunner

from loyalty.cli import main
from server.ingest.store_api import open_store

from ..fixtures.chain import ServerProcess, Till, start_ingestor


def assert_store_matches(url, tills):
    store = open_store(url)
    try:
        stats = store.stats()
    finally:
        store.close()
    journals = [t.journal.totals() for t in tills]
    assert stats["tickets"] == sum(j["tickets"] for j in journals)
    assert stats["total_cents"] == sum(j["total_cents"] for j in journals)
    assert stats["points_earned"] == sum(j["points_earned"] for j in journals)
    assert {t: v["contiguous_seq"] for t, v in stats["terminals"].items()} == {
        t.terminal: t.journal.last_seq() for t in tills
    }
    return stats


@pytest.mark.timeout(90)
def test_two_tills_sync_into_postgres_through_the_ingestor(tmp_path, mosquitto, postgres_url):
    ingestor = start_ingestor(postgres_url, mosquitto.url)
    tills = [Till(tmp_path, f"S001-T0{n}", seed=n) for n in (1, 2)]
    try:
        for till in tills:
            till.connect(mosquitto.url)
        for _ in range(3):
            for till in tills:
                till.sell(40)
        assert all(t.sender.wait_synced(60) for t in tills)
    finally:
        for till in tills:
            till.sender.stop()
        ingestor.stop()
    stats = assert_store_matches(postgres_url, tills)
    assert (stats["tickets"], stats["dead_letters"], ingestor.store_failures) == (240, 0, 0)
    for till in tills:
        till.journal.close()


@pytest.mark.timeout(90)
def test_loyalty_server_runs_ingest_on_a_postgresql_url(tmp_path, mosquitto, postgres_url):
    server = ServerProcess(postgres_url, mosquitto.url).start()
    till = Till(tmp_path, "S002-T01", seed=5)
    try:
        till.connect(mosquitto.url)
        till.sell(25)
        assert till.sender.wait_synced(60)
    finally:
        till.sender.stop()
        server.stop()
    assert assert_store_matches(postgres_url, [till])["tickets"] == 25
    till.journal.close()


def test_an_unreachable_postgresql_stops_the_server_at_once_with_the_reason(postgres_server):
    url = postgres_server.url("no_such_db")
    result = CliRunner().invoke(main, ["server", "--db", url, "--broker", "mqtt://127.0.0.1:1"])
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: cannot open the PostgreSQL database {url}: ")
    assert result.output.rstrip().endswith("; check the URL and that the server runs")
