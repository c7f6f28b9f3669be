"""Head office checks a return's refund to the original tenders, SQLite and PostgreSQL: the points given back are
credited up to what the ticket took, all returns together; past that, a discrepancy and only what is left is
credited. A refund cheque is recorded in the cheque book."""

from datetime import datetime, timezone

import msgspec

from programme.redemption import cheque_serial
from programme.ticket import PointsEntry
from server.desk import cheque_book
from server.ingest.receive import classify
from server.ingest.store_api import open_store
from sync.codec import encode_ticket
from sync.topics import tickets as tickets_topic
from terminal import cardstate
from terminal.till import TillSession

CARD = "2900000000018"
OIL = "3000000000014"
NOW = datetime.now(timezone.utc).isoformat()


def sale_and_returns(tmp_path):
    session = TillSession(str(tmp_path / "till.db"), "S001-T01")
    cardstate.remember_balance(session.journal.conn, CARD, 2000, "2026-01-01T00:00:00+00:00")
    session.identify(CARD)
    session.scan(f"2*{OIL}@10.00")
    session.redeem(600)
    session.pay("cash")
    original = session.close().ticket
    first = session.return_lines(original.id, {0: 1}, ask=False).ticket
    second = session.return_lines(original.id, {0: 1}, ask=False).ticket
    session.close_session()
    return original, first, second


def ingest(target, tickets):
    store = open_store(target)
    try:
        good, dead = classify([(tickets_topic(t.terminal), encode_ticket(t)) for t in tickets])
        store.ingest(good, dead, NOW)
        flags = [
            tuple(r)
            for r in store.conn.execute("SELECT ticket_id, reason FROM discrepancies ORDER BY ticket_id").fetchall()
        ]
        ledger = dict(
            store.conn.execute(
                "SELECT ticket_id, sum(points) FROM ledger WHERE rule LIKE 'refund%' GROUP BY ticket_id"
            ).fetchall()
        )
        return flags, ledger
    finally:
        store.close()


def test_points_given_back_by_returns_are_credited_up_to_what_the_ticket_took(tmp_path, office_target):
    original, first, second = sale_and_returns(tmp_path)
    flags, ledger = ingest(office_target, [original, first, second])
    assert flags == [] and ledger == {first.id: 300, second.id: 300}


def test_a_return_giving_back_more_points_than_the_ticket_took_is_flagged_and_capped(tmp_path, office_target):
    original, first, second = sale_and_returns(tmp_path)
    greedy = msgspec.structs.replace(
        second,
        points=[
            PointsEntry(kind="earn", rule=e.rule, points=900) if e.rule.startswith("refund") else e
            for e in second.points
        ],
    )
    flags, ledger = ingest(office_target, [original, first, greedy])
    assert flags == [
        (
            greedy.id,
            f"return gives back 900 points of {original.id}'s points tender; it took 600 and "
            "300 were given back before: 300 credited",
        )
    ]
    assert ledger == {first.id: 300, greedy.id: 300}


def test_a_refund_cheque_is_in_the_cheque_book(tmp_path, office_target):
    session = TillSession(str(tmp_path / "till.db"), "S001-T01")
    session.identify(CARD)
    session.scan(f"{OIL}@10.00")
    session.spend_cheque(cheque_serial("S001-T01", 99, 0, 500))
    session.pay("cash")
    original = session.close().ticket
    back = session.return_lines(original.id, {0: 1}, ask=False).ticket
    session.close_session()
    flags, _ = ingest(office_target, [original, back])
    serial = cheque_serial("S001-T01", back.seq, 0, 500)
    store = open_store(office_target)
    try:
        cheque = cheque_book.find(store.conn, serial)
        assert (cheque.card, cheque.cents, cheque.issue_ticket, cheque.state) == (CARD, 500, back.id, "issued")
    finally:
        store.close()
    assert [ticket for ticket, _ in flags] == [original.id]  # the cheque it took is unknown here: flagged


def test_a_refund_cheque_past_what_the_ticket_took_in_cheques_is_flagged(tmp_path, office_target):
    from programme.ticket import Tender

    session = TillSession(str(tmp_path / "till.db"), "S001-T01")
    session.identify(CARD)
    session.scan(f"{OIL}@10.00")
    session.spend_cheque(cheque_serial("S001-T01", 99, 0, 200))
    session.pay("cash")
    original = session.close().ticket
    back = session.return_lines(original.id, {0: 1}, ask=False).ticket
    session.close_session()
    serial = cheque_serial("S001-T01", back.seq, 0, 900)
    greedy = msgspec.structs.replace(back, tenders=[Tender("cheque", -900, serial), Tender("cash", -100)])
    flags, _ = ingest(office_target, [original, greedy])
    assert flags[-1] == (
        greedy.id,
        "refund cheque of 9.00 EUR: S001-T01-00000001 took 2.00 EUR in cheques and 0.00 EUR were refunded before",
    )
