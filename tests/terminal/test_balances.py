"""The server tells a till the balances of the cards it sold to; the till adds only its later tickets."""

import pytest

from programme.ticket import make_line
from server.ingest.store import Store
from sync.broker_url import parse_broker_url
from terminal.cardstate import card_balance
from terminal.downlink import DownlinkListener
from terminal.sale import sell

from ..fixtures.chain import Till, start_ingestor

CARD = "2900000000018"


@pytest.mark.timeout(60)
def test_balance_pushed_after_commit_then_offline_sales_added_once(tmp_path, mosquitto):
    server = start_ingestor(tmp_path / "server.db", mosquitto.url)
    till = Till(tmp_path, "S001-T01")
    downlink = DownlinkListener(till.journal.path, "S001-T01", parse_broker_url(mosquitto.url)).start()
    assert downlink.subscribed.wait(10)
    other = Till(tmp_path, "S002-T01")
    try:
        other.connect(mosquitto.url)
        sell(other.journal, [make_line("3017620422003", 4, 500)], CARD)  # 20 points at another store
        assert other.sender.wait_synced(30)
        till.connect(mosquitto.url)
        sell(till.journal, [make_line("3017620422003", 2, 500)], CARD)  # 10 points here
        till.sender.wake()
        assert till.sender.wait_synced(30)
        assert downlink.balances_updated.wait(30)
        server_balance = Store(tmp_path / "server.db").balances([CARD])[CARD]
        assert server_balance == 30
        seen = card_balance(till.journal.conn, CARD, online=True)
        assert (seen.known_points, seen.local_points, seen.points, seen.confirmed) == (30, 0, 30, True)
        # Offline: a sale here counts once, on top of the server's balance, whatever the clocks say.
        till.sender.stop()
        till.sender = None
        sell(till.journal, [make_line("3017620422003", 1, 700)], CARD)  # 7 points, not synced
        seen = card_balance(till.journal.conn, CARD, online=False)
        assert (seen.known_points, seen.local_points, seen.points, seen.confirmed) == (30, 7, 37, False)
    finally:
        downlink.stop()
        till.close()
        other.close()
        server.stop()
