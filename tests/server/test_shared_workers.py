"""Several ingest workers share the tickets through an MQTT shared subscription on Mosquitto."""

import pytest

from server.ingest.receive import Ingestor
from server.ingest.store import Store
from sync.broker_url import parse_broker_url

from ..fixtures.chain import Till

pytestmark = pytest.mark.usefixtures("english")  # written when the pages spoke only English


@pytest.mark.timeout(120)
def test_two_workers_store_every_ticket_once_and_acks_stay_right(tmp_path, mosquitto):
    url = parse_broker_url(mosquitto.url)
    workers = [
        Ingestor(
            str(tmp_path / "server.db"), url, client_id=f"ingest-{n}", shared_group="ingest", require_registered=False
        ).start()
        for n in range(2)
    ]
    assert all(w.wait_connected(10) for w in workers)
    tills = [Till(tmp_path, f"S001-T0{n}", seed=n) for n in (1, 2, 3)]
    try:
        for till in tills:
            till.connect(mosquitto.url)
        for _ in range(4):
            for till in tills:
                till.sell(50)
        assert all(t.sender.wait_synced(60) for t in tills)
    finally:
        for till in tills:
            till.close()
        for worker in workers:
            worker.stop()
    stored = [w.totals.stored for w in workers]
    assert sum(stored) == 600 and min(stored) > 0, f"both workers take a share: {stored}"
    stats = Store(tmp_path / "server.db").stats()
    assert stats["tickets"] == 600
    assert {t: v["contiguous_seq"] for t, v in stats["terminals"].items()} == {
        "S001-T01": 200,
        "S001-T02": 200,
        "S001-T03": 200,
    }
