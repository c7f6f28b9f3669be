"""A store's broker bridged to head office's: tills keep syncing to the store while the link is down."""

import pytest

from sync.broker_config import bridge_section
from sync.mosquitto import Mosquitto, mosquitto_binary

from ..fixtures.chain import Till, start_ingestor
from ..fixtures.components import require


@pytest.mark.timeout(120)
def test_everything_arrives_after_the_link_to_head_office_comes_back(tmp_path):
    require(mosquitto_binary() is not None, "mosquitto", "run `make setup` (apt-get install mosquitto)")
    central = Mosquitto(tmp_path / "central").start()
    store_broker = Mosquitto(
        tmp_path / "store", extra=bridge_section("S001", f"127.0.0.1:{central.port}", restart_base=1, restart_cap=1)
    ).start()
    server = start_ingestor(tmp_path / "server.db", central.url)
    tills = [Till(tmp_path, f"S001-T0{n}", seed=n) for n in (1, 2)]
    try:
        for till in tills:
            till.connect(store_broker.url)
            till.sell(20)
        assert all(t.sender.wait_synced(30) for t in tills), "through the bridge while it is up"
        central.stop()
        for till in tills:
            till.sell(150)
        assert not tills[0].sender.wait_synced(0.5)
        assert all(t.sender.status.connected for t in tills), "the store broker is still there"
        central.start()
        assert all(t.sender.wait_synced(60) for t in tills)
    finally:
        for till in tills:
            till.close()
        server.stop()
        store_broker.stop()
        central.stop()
    assert server.totals.stored == 340


def test_bridge_section_with_tls_and_account():
    text = bridge_section("S042", "ho.example:8883", "bridge-S042", "secret", "/etc/loyalty/ca.crt")
    assert "connection bridge-S042\naddress ho.example:8883\n" in text
    assert "topic loyalty/v1/up/# out 1\ntopic loyalty/v1/down/# in 1\n" in text
    assert "remote_username bridge-S042\nremote_password secret\nbridge_cafile /etc/loyalty/ca.crt\n" in text
