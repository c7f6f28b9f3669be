"""The till keeps selling with the broker down, caps redemption offline, and catches up when it is back."""

import asyncio
import functools
import time
from datetime import datetime, timezone

import msgspec
import pytest

from programme.points import default_rules
from sync import mqtt as sync_mqtt
from sync.broker_url import parse_broker_url
from terminal import cardstate
from terminal.app import TillApp
from terminal.simulate import Shopper

from ..fixtures.chain import count_tickets, start_ingestor

pytestmark = pytest.mark.usefixtures("english")  # written when the till spoke only English

CAP = 200
RICH_CARD = "2900000000018"


async def wait_status(app, pilot, prefix: str, timeout: float) -> str:
    """Poll the status bar the cashier sees until it starts with `prefix` (it refreshes on a timer)."""
    deadline = time.monotonic() + timeout
    while True:
        text = str(app.screen.query_one("#status").render())
        if text.startswith(prefix):
            return text
        if time.monotonic() > deadline:
            raise AssertionError(f"status bar still says {text!r} after {timeout} s, expected {prefix!r}...")
        await pilot.pause(0.05)


def sell_offline(app, count: int) -> list:
    """Close `count` tickets through the session the screen uses; ticket 10 redeems more than the cap."""
    session, notes = app.session, []
    for n, (lines, card) in enumerate(Shopper(seed=5).baskets(count), 1):
        for line in lines:
            session.scan(f"{line.quantity}*{line.gtin}")
        if n == 10:
            card = RICH_CARD
            session.scan("5*3000000000014")  # enough due for the capped redemption
        if card:
            session.identify(card)
        if n == 10:
            redemption = session.redeem(1000)
            notes.append(redemption.note)
            assert redemption.points == CAP
        session.pay("bank_card")
        session.close()
    return notes


def pilot_test(fn):
    @functools.wraps(fn)
    def run(*args, **kwargs):
        asyncio.run(fn(*args, **kwargs))

    return run


@pytest.mark.timeout(90)
@pilot_test
async def test_fifty_sales_offline_then_all_synced(tmp_path, mosquitto, monkeypatch):
    capped = msgspec.structs.replace(
        default_rules(), redemption=msgspec.structs.replace(default_rules().redemption, offline_daily_cap_points=CAP)
    )
    monkeypatch.setattr("terminal.till.TillSession.rules", lambda self: capped)
    monkeypatch.setattr(sync_mqtt, "RECONNECT_MAX_DELAY", 0.5)
    server_db = tmp_path / "server.db"
    ingestor = start_ingestor(server_db, mosquitto.url)
    app = TillApp(str(tmp_path / "till.db"), "S001-T07", broker=parse_broker_url(mosquitto.url))
    cardstate.remember_balance(app.session.journal.conn, RICH_CARD, 5000, datetime.now(timezone.utc))
    try:
        async with app.run_test(size=(130, 40)) as pilot:
            await wait_status(app, pilot, "online | backlog 0", 15)
            mosquitto.stop()
            await wait_status(app, pilot, "offline | ", 15)
            notes = sell_offline(app, 50)
            assert notes == [
                f"offline cap: at most {CAP} points a day per card while the till is offline "
                f"(0 already today), so {CAP} points are redeemed"
            ]
            await pilot.pause(0.3)
            assert await wait_status(app, pilot, "offline | backlog 50 | last ack never", 5)
            mosquitto.start()
            app.wake_sync()
            status = await wait_status(app, pilot, "online | backlog 0 | last ack ", 45)
            assert "| last ack never" not in status
        assert count_tickets(server_db) == 50
    finally:
        ingestor.stop()
