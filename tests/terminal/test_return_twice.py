"""A line returned at one till is not returned again at another: refused online (head office says what was
returned), flagged by head office when the other till took it offline."""
import sqlite3

import pytest

from sync.broker_url import parse_broker_url
from terminal import requests
from terminal.errors import ReturnError
from terminal.requests import Requester
from terminal.returns import close_return
from terminal.till import TillSession

from ..fixtures.chain import Till
from .test_requests import HeadOffice, sold_at_till_a

ORIGINAL = "S001-T01-00000001"  # till A's: 2 oils (line 1) and razors (line 2), to the card


@pytest.fixture
def returned_at_a(tmp_path, mosquitto, monkeypatch):
    """Till B (online) has fetched till A's ticket; then till A takes both oils back and syncs."""
    monkeypatch.setattr(requests, "ASK_TIMEOUT", 5.0)  # a loaded test machine must not turn an answer into a timeout
    office = HeadOffice(tmp_path / "server.db", mosquitto.url)
    till_a = sold_at_till_a(tmp_path, mosquitto.url)
    till_b = Till(tmp_path, "S002-T01")
    requester = Requester("S002-T01", parse_broker_url(mosquitto.url)).start()
    assert requester.ready.wait(10)
    session = TillSession(till_b.journal.path, "S002-T01", online=lambda: True, requester=requester)
    assert session.find_original(ORIGINAL).id == ORIGINAL  # kept at B from now on
    back = close_return(till_a.journal, ORIGINAL, {0: 2})
    till_a.sender.wake()
    assert till_a.sender.wait_synced(30)
    yield office, till_b, session, back
    session.close_session()
    requester.stop()
    till_b.close()
    till_a.close()
    office.stop()


@pytest.mark.timeout(60)
def test_online_till_b_refuses_the_line_till_a_returned(returned_at_a):
    _, till_b, session, _ = returned_at_a
    with pytest.raises(ReturnError) as refused:
        session.return_lines(ORIGINAL, {0: 1})
    assert str(refused.value) == ("line 1 of S001-T01-00000001 was already returned (2 of 2 at all tills, as head "
                                  "office knows): 0 left to return, 1 asked")
    assert till_b.journal.ticket_count() == 0
    razors = session.return_lines(ORIGINAL, {1: 1}).ticket  # what till A did not return still can be
    assert [(r.original, r.original_line, r.quantity) for r in razors.returns] == [(ORIGINAL, 1, 1)]


@pytest.mark.timeout(60)
def test_offline_till_b_takes_it_and_head_office_flags_it_after_sync(returned_at_a, mosquitto):
    office, till_b, _, back_at_a = returned_at_a
    twice = close_return(till_b.journal, ORIGINAL, {0: 2})  # offline: no head office to ask, it cannot know
    assert [(r.original_line, r.quantity) for r in twice.returns] == [(0, 2)]
    till_b.connect(mosquitto.url)
    assert till_b.sender.wait_synced(30)
    conn = sqlite3.connect(office.db)
    try:
        assert conn.execute("SELECT ticket_id, reason FROM discrepancies").fetchall() == [
            (twice.id, "line 1 of S001-T01-00000001 returned beyond what was sold: 4 of 2 returned, all tills "
                       "together (its points reversed more than once)")]
        assert conn.execute("SELECT return_id, quantity FROM returned_lines ORDER BY return_id").fetchall() == [
            (back_at_a.id, 2), (twice.id, 2)]
    finally:
        conn.close()
