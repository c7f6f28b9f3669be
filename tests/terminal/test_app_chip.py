"""A chip card inserted into the real reader stack (pcscd + vpcd + virtual card) shows on the sale screen."""

import asyncio
import functools
import time

import pytest

from terminal import cardstate
from terminal.app import TillApp

pytestmark = pytest.mark.usefixtures("english")  # written when the till spoke only English

NUMBER, BLOCKED = "2900000000018", "2900000000025"


def pilot_test(fn):
    @functools.wraps(fn)
    def run(*args, **kwargs):
        asyncio.run(fn(*args, **kwargs))

    return run


async def wait_text(app, pilot, selector: str, prefix: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while True:
        text = str(app.screen.query_one(selector).render())
        if text.startswith(prefix):
            return text
        if time.monotonic() > deadline:
            raise AssertionError(f"{selector} still says {text!r} after {timeout} s, expected {prefix!r}...")
        await pilot.pause(0.05)


@pytest.mark.timeout(60)
@pilot_test
async def test_chip_card_inserted_shows_name_and_balance_and_blocked_card(tmp_path, card_slot, issuer_key):
    app = TillApp(
        str(tmp_path / "till.db"), "S001-T01", reader=card_slot.reader, issuer_public_key=issuer_key.public_key()
    )
    conn = app.session.journal.conn
    cardstate.remember_balance(conn, NUMBER, 640, "2026-01-01T00:00:00+00:00", first_name="Ana")
    cardstate.replace_hotlist(conn, {BLOCKED: "stolen"})
    async with app.run_test(size=(130, 40)) as pilot:
        await wait_text(app, pilot, "#status", "offline (no broker) | backlog 0 | last ack never | rules ", 5)
        status = await wait_text(app, pilot, "#status", "offline", 10)
        deadline = time.monotonic() + 10
        while "Virtual PCD 00 00: ready" not in status and time.monotonic() < deadline:
            await pilot.pause(0.05)
            status = str(app.screen.query_one("#status").render())
        assert "| reader Virtual PCD 00 00: ready | store S001 |" in status
        card = card_slot.insert(NUMBER)
        shown = await wait_text(app, pilot, "#card", "card *********0018", 10)
        assert shown.startswith("card *********0018  Ana\nbalance 640 points  (offline)\n")
        assert app.session.basket.card == NUMBER
        card_slot.remove(card)
        card_slot.insert(BLOCKED)
        refused = await wait_text(app, pilot, "#card", "card blocked", 10)
        assert refused == (
            "card blocked (stolen): card *********0025 is on the hot-list; keep the card and send the "
            "customer to the welcome desk"
        )
        assert app.session.basket.card == NUMBER  # the refused card replaced nothing
