"""Head office keeps the links return tickets carry and flags a line returned twice (at two tills) or a return
of a ticket it does not hold; on SQLite and on a real PostgreSQL."""

from datetime import datetime, timezone

import pytest

from programme.ticket import make_line
from server.ingest.answers import answer_ticket
from sync.codec import encode, encode_ticket
from sync.requests import TicketRequest, decode_reply
from sync.topics import tickets as tickets_topic
from terminal.journal import Journal
from terminal.returns import FOREIGN_SCHEMA, close_return
from terminal.sale import sell

from .test_store import ingest

CARD = "2900000000018"
OIL, RAZORS = "3000000000014", "3000000000007"
ORIGINAL = "S001-T01-00000001"


def message(ticket):
    return tickets_topic(ticket.terminal), encode_ticket(ticket)


@pytest.fixture
def returns_at_two_tills(tmp_path):
    """Till A sells 2 oils and a razor to the card, then takes both oils back; till B, offline, holding the
    ticket as fetched earlier from head office, takes the same 2 oils back: it cannot know."""
    with Journal(tmp_path / "a.db", "S001-T01") as a, Journal(tmp_path / "b.db", "S002-T01") as b:
        sale = sell(a, [make_line(OIL, 2, 542, "grocery", "olive oil 1l"), make_line(RAZORS, 1, 191, "hygiene")], CARD)
        b.conn.execute(FOREIGN_SCHEMA)
        b.conn.execute(
            "INSERT INTO foreign_tickets VALUES (?, ?, ?)",
            (sale.id, encode_ticket(sale), datetime.now(timezone.utc).isoformat()),
        )
        at_a = close_return(a, sale.id, {0: 2})
        at_b = close_return(b, sale.id, {0: 2})
    return sale, at_a, at_b


def flags(store):
    return [
        tuple(r)
        for r in store.conn.execute(
            "SELECT ticket_id, till_points, server_points, reason FROM discrepancies ORDER BY ticket_id"
        ).fetchall()
    ]


def test_a_line_returned_at_two_tills_is_flagged_on_the_second(store, returns_at_two_tills):
    sale, at_a, at_b = returns_at_two_tills
    result = ingest(store, [message(sale), message(at_a)])
    assert result.stored == 2 and flags(store) == []
    assert [
        tuple(r)
        for r in store.conn.execute(
            "SELECT return_id, line_no, original_id, original_line, quantity, points FROM returned_lines"
        ).fetchall()
    ] == [(at_a.id, 0, ORIGINAL, 0, 2, 10)]
    ingest(store, [message(at_b)])
    assert flags(store) == [
        (
            at_b.id,
            10,
            None,
            "line 1 of S001-T01-00000001 returned beyond what was sold: 4 of 2 "
            "returned, all tills together (its points reversed more than once)",
        )
    ]


def test_the_same_in_one_batch_flags_only_the_return_that_goes_past(store, returns_at_two_tills):
    sale, at_a, at_b = returns_at_two_tills
    ingest(store, [message(at_b), message(sale), message(at_a)])
    assert [f[0] for f in flags(store)] == [at_b.id]  # till by till: S001 first, then S002


def test_a_return_of_a_ticket_head_office_does_not_hold_says_so(store, returns_at_two_tills):
    sale, _, at_b = returns_at_two_tills
    ingest(store, [message(at_b)])
    assert flags(store) == [
        (
            at_b.id,
            10,
            None,
            "return of S001-T01-00000001, which head office does not hold "
            "(yet): it may arrive when the till that sold it syncs; check this "
            "return then",
        )
    ]
    ingest(store, [message(at_b)])  # the same message again: a duplicate, nothing more
    assert len(flags(store)) == 1
    assert store.conn.execute("SELECT count(*) FROM returned_lines").fetchone()[0] == 1


def test_a_waiting_return_is_checked_again_when_its_original_arrives(store, returns_at_two_tills):
    sale, at_a, at_b = returns_at_two_tills
    ingest(store, [message(at_b)])  # till B syncs first; the sale and till A's return come later
    ingest(store, [message(at_a)])
    assert [f[0] for f in flags(store)] == [at_a.id, at_b.id]
    ingest(store, [message(sale)])
    # Both returns took the 2 oils back: the one closed second went past what was sold; the first is fine.
    assert flags(store) == [
        (
            at_b.id,
            10,
            None,
            "line 1 of S001-T01-00000001 returned beyond what was sold: 4 of 2 "
            "returned, all tills together (its points reversed more than once)",
        )
    ]


def test_a_waiting_return_within_what_was_sold_leaves_the_discrepancies(store, returns_at_two_tills):
    sale, at_a, _ = returns_at_two_tills
    ingest(store, [message(at_a)])
    assert len(flags(store)) == 1
    ingest(store, [message(sale)])
    assert flags(store) == []


def test_tickets_without_returns_leave_no_links(store, tmp_path):
    with Journal(tmp_path / "a.db", "S001-T01") as a:
        sales = [sell(a, [make_line(OIL, 1, 542)], CARD) for _ in range(3)]
    ingest(store, [message(t) for t in sales])
    assert store.conn.execute("SELECT count(*) FROM returned_lines").fetchone()[0] == 0 and flags(store) == []


def test_the_ticket_answer_says_what_was_returned_of_each_line(store, returns_at_two_tills):
    sale, at_a, _ = returns_at_two_tills
    ingest(store, [message(sale)])
    asked = TicketRequest(schema=1, id="r1", ticket_id=sale.id)
    assert answer_ticket(store.conn, "S001-T02", asked).returned == {}
    ingest(store, [message(at_a)])
    reply = decode_reply(encode(answer_ticket(store.conn, "S001-T02", asked)))  # as the till reads it off the wire
    assert (reply.found, reply.returned) == (True, {0: 2})
