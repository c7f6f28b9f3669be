"""A line returned at one till is not returned again at another: refused online (head office says what was
returned), flagged by head office when the other till took it offline."""

import sqlite3
from types import SimpleNamespace

import pytest
from click.testing import CliRunner

from loyalty.cli import main
from sync.broker_url import parse_broker_url
from terminal import requests
from terminal.app import TillApp
from terminal.errors import ReturnError
from terminal.requests import Requester
from terminal.returns import close_return
from terminal.till import TillSession

from ..fixtures.chain import Till
from .test_app import SIZE, pilot_test, text_of, type_in
from .test_requests import HeadOffice, sold_at_till_a, wait_online

pytestmark = pytest.mark.usefixtures("english")  # written when the till spoke only English

ORIGINAL = "S001-T01-00000001"  # till A's: 2 oils (line 1) and razors (line 2), to the card
REFUSED = (
    "line 1 of S001-T01-00000001 was already returned (2 of 2 at all tills, as head office knows): "
    "0 left to return, 1 asked"
)


@pytest.fixture
def chain(tmp_path, mosquitto, monkeypatch):
    """Till B (online) has fetched till A's ticket; then till A takes both oils back and syncs."""
    monkeypatch.setattr(requests, "ASK_TIMEOUT", 5.0)  # a loaded test machine must not turn an answer into a timeout
    office = HeadOffice(tmp_path / "server.db", mosquitto.url)
    till_a = sold_at_till_a(tmp_path, mosquitto.url)
    till_b = Till(tmp_path, "S001-T02")
    requester = Requester("S001-T02", parse_broker_url(mosquitto.url)).start()
    assert requester.ready.wait(10)
    session = TillSession(till_b.journal.path, "S001-T02", online=lambda: True, requester=requester)
    assert session.find_original(ORIGINAL).id == ORIGINAL  # kept at B from now on
    back = close_return(till_a.journal, ORIGINAL, {0: 2})
    till_a.sender.wake()
    assert till_a.sender.wait_synced(30)
    yield SimpleNamespace(office=office, till_a=till_a, till_b=till_b, session=session, back=back, url=mosquitto.url)
    session.close_session()
    requester.stop()
    till_b.close()
    till_a.close()
    office.stop()


@pytest.mark.timeout(60)
def test_online_till_b_refuses_the_line_till_a_returned(chain):
    with pytest.raises(ReturnError) as refused:
        chain.session.return_lines(ORIGINAL, {0: 1})
    assert str(refused.value) == REFUSED
    assert chain.till_b.journal.ticket_count() == 0
    razors = chain.session.return_lines(ORIGINAL, {1: 1}).ticket  # what till A did not return still can be
    assert [(r.original, r.original_line, r.quantity) for r in razors.returns] == [(ORIGINAL, 1, 1)]
    # ... and till A, online, asks head office about its own ticket: the razors went back at B
    chain.till_b.connect(chain.url)
    assert chain.till_b.sender.wait_synced(30)
    requester_a = Requester("S001-T01", parse_broker_url(chain.url)).start()
    try:
        assert requester_a.ready.wait(10)
        with pytest.raises(ReturnError) as refused:
            close_return(chain.till_a.journal, ORIGINAL, {1: 1}, requester=requester_a)
        assert str(refused.value) == (
            "line 2 of S001-T01-00000001 was already returned (1 of 1 at all tills, as "
            "head office knows): 0 left to return, 1 asked"
        )
    finally:
        requester_a.stop()


@pytest.mark.timeout(60)
def test_offline_till_b_takes_it_and_head_office_flags_it_after_sync(chain):
    twice = close_return(chain.till_b.journal, ORIGINAL, {0: 2})  # offline: no head office to ask, it cannot know
    assert [(r.original_line, r.quantity) for r in twice.returns] == [(0, 2)]
    chain.till_b.connect(chain.url)
    assert chain.till_b.sender.wait_synced(30)
    conn = sqlite3.connect(chain.office.db)
    try:
        assert conn.execute("SELECT ticket_id, reason FROM discrepancies").fetchall() == [
            (
                twice.id,
                "line 1 of S001-T01-00000001 returned beyond what was sold: 4 of 2 returned, all tills "
                "together (its points reversed more than once)",
            )
        ]
        assert conn.execute("SELECT return_id, quantity FROM returned_lines ORDER BY return_id").fetchall() == [
            (chain.back.id, 2),
            (twice.id, 2),
        ]
    finally:
        conn.close()


@pytest.mark.timeout(60)
@pilot_test
async def test_the_screen_at_till_b_shows_nothing_left_of_the_line_and_refuses_it(chain, tmp_path):
    chain.session.close_session()  # the app opens till B's journal itself, and asks with its own requester
    chain.session.requester.stop()  # (the same MQTT client id: two would push each other off the broker)
    app = TillApp(chain.till_b.journal.path, "S001-T02", broker=parse_broker_url(chain.url))
    async with app.run_test(size=SIZE) as pilot:
        await wait_online(app)
        await pilot.press("f7")  # the ticket is kept at B: F7 asks head office only what was returned
        await type_in(pilot, ORIGINAL)
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert text_of(app, "#receipt") == "return of S001-T01-00000001\n1. olive oil 1l x0\n2. razors x1"
        await type_in(pilot, "1x1")
        assert text_of(app, "#message") == REFUSED
    assert chain.till_b.journal.ticket_count() == 0


@pytest.mark.timeout(60)
def test_loyalty_till_return_with_a_broker_asks_head_office(chain):
    chain.session.close_session()
    chain.session.requester.stop()  # the command asks with its own requester, under the same client id
    db = chain.till_b.journal.path
    args = ["till", "return", "--terminal", "S001-T02", "--db", db, "--ticket", ORIGINAL, "--broker", chain.url]
    refused = CliRunner().invoke(main, [*args, "--line", "1x1"])
    assert (refused.exit_code, refused.output) == (1, f"Error: {REFUSED}\n")
    taken = CliRunner().invoke(main, [*args, "--line", "2"])
    assert taken.exit_code == 0 and "razors" in taken.output
    assert chain.till_b.journal.find_ticket("S001-T02-00000001").returns[0].original_line == 1
