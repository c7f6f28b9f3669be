"""Loyalty cheques at head office, SQLite and PostgreSQL: the cheques tickets issue are recorded with serial,
value, card, dates and state; a spend is checked at ingest (a second one names both tickets); a till asking is
refused with the reason in the cashier's words; outstanding cheques count in the liability and the stats."""

import pytest
from datetime import date, datetime, timedelta, timezone

import msgspec

from programme.i18n import format_date
from programme.redemption import cheque_serial
from programme.ticket import Tender
from server.analytics.points import points_summary
from server.ingest.answers import answer
from server.desk import cheque_book
from server.ingest.receive import classify
from server.ingest.store_api import open_store
from sync.codec import encode_ticket
from sync.requests import ChequeRequest
from sync.topics import tickets as tickets_topic
from terminal import cardstate
from terminal.till import TillSession

pytestmark = pytest.mark.usefixtures("english")  # the messages and receipts as written, in English

CARD = "2900000000018"
OTHER = "2900000000025"
OIL = "3000000000014"
NOW = datetime.now(timezone.utc)


def till(tmp_path, terminal):
    return TillSession(str(tmp_path / f"{terminal}.db"), terminal)


def issue_two(tmp_path):
    """Till S001-T01 turns 1,000 of the card's points into two 5.00 EUR cheques."""
    session = till(tmp_path, "S001-T01")
    cardstate.remember_balance(session.journal.conn, CARD, 1000, "2026-01-01T00:00:00+00:00")
    session.identify(CARD)
    session.scan(f"{OIL}@1.00")
    session.issue_cheques()
    session.pay("cash")
    ticket = session.close().ticket
    session.close_session()
    return ticket


def spend(tmp_path, terminal, serial, card=CARD):
    """An offline till takes the cheque on a 12.00 EUR ticket."""
    session = till(tmp_path, terminal)
    session.identify(card)
    session.scan(f"{OIL}@12.00")
    session.spend_cheque(serial)
    session.pay("cash")
    ticket = session.close().ticket
    session.close_session()
    return ticket


def ingest(target, tickets):
    store = open_store(target)
    try:
        good, dead = classify([(tickets_topic(t.terminal), encode_ticket(t)) for t in tickets])
        store.ingest(good, dead, NOW.isoformat())
        return [
            tuple(r)
            for r in store.conn.execute("SELECT ticket_id, reason FROM discrepancies ORDER BY ticket_id").fetchall()
        ]
    finally:
        store.close()


def test_cheques_issued_at_a_till_are_recorded_with_their_lifecycle(tmp_path, office_target):
    ticket = issue_two(tmp_path)
    assert ingest(office_target, [ticket]) == []
    store = open_store(office_target)
    try:
        serial = cheque_serial("S001-T01", ticket.seq, 1, 500)
        cheque = cheque_book.find(store.conn, serial)
        assert (cheque.card, cheque.cents, cheque.state, cheque.issue_ticket) == (CARD, 500, "issued", ticket.id)
        assert cheque.expires_at - cheque.issued_at == timedelta(days=90)
        assert cheque.state_at(cheque.expires_at) == "expired"
        summary = store.stats()["cheques"]
        assert summary["issued"] == {"count": 2, "cents": 1000}
        assert summary["outstanding"] == {"count": 2, "cents": 1000}
        assert summary["spent"] == summary["expired"] == {"count": 0, "cents": 0}
        assert points_summary(store.conn, date(2026, 1, 1), NOW.date(), NOW.date())["cheques_outstanding_cents"] == 1000
    finally:
        store.close()


def test_a_cheque_spent_twice_offline_is_flagged_naming_both_tickets(tmp_path, office_target):
    issued = issue_two(tmp_path)
    serial = cheque_serial("S001-T01", issued.seq, 0, 500)
    first, second = spend(tmp_path, "S001-T02", serial), spend(tmp_path, "S001-T03", serial)
    assert ingest(office_target, [issued, first]) == []
    assert ingest(office_target, [second]) == [
        (second.id, f"cheque {serial} spent twice: tickets {first.id} and {second.id}")
    ]
    store = open_store(office_target)
    try:
        assert cheque_book.find(store.conn, serial).spent_ticket == first.id
        assert cheque_book.spent_twice(store.conn)[0]["tickets"] == [first.id, second.id]
        assert store.stats()["cheques"]["spent"] == {"count": 1, "cents": 500}
    finally:
        store.close()


def test_a_cheque_tender_is_checked_at_ingest(tmp_path, office_target):
    issued = issue_two(tmp_path)
    serial = cheque_serial("S001-T01", issued.seq, 0, 500)
    other_card = spend(tmp_path, "S001-T02", serial, card=OTHER)
    unknown = cheque_serial("S009-T01", 5, 0, 500)
    forged = spend(tmp_path, "S001-T03", unknown)
    no_serial = msgspec.structs.replace(
        forged, id="S001-T04-00000001", terminal="S001-T04", seq=1, tenders=[Tender("cheque", 500), Tender("cash", 700)]
    )
    assert ingest(office_target, [issued, other_card, forged, no_serial]) == [
        (other_card.id, f"cheque {serial} was issued to card *********0018, spent on *********0025"),
        (forged.id, f"cheque {unknown} is not known to head office: not issued, or its till has not synced yet"),
        (
            no_serial.id,
            "a loyalty cheque tender of 5.00 EUR carries no serial: head office cannot tell which cheque paid",
        ),
    ]


def asked(conn, serial, card=CARD, terminal="S001-T02", now=NOW):
    return answer(conn, terminal, ChequeRequest(schema=1, id="r1", serial=serial, card=card), now)


def test_a_till_asking_is_refused_with_the_reason(tmp_path, office_target):
    issued = issue_two(tmp_path)
    ok, gone = (cheque_serial("S001-T01", issued.seq, rank, 500) for rank in range(2))
    spent = spend(tmp_path, "S001-T03", gone)
    ingest(office_target, [issued, spent])
    store = open_store(office_target)
    conn = store.conn
    try:
        unknown = cheque_serial("S009-T01", 5, 0, 500)
        assert asked(conn, unknown).message == (
            f"loyalty cheque {unknown} is not known to head office: check the digits, or take another tender"
        )
        day = format_date(spent.closed_at)  # Paris time
        assert asked(conn, gone).message == (
            f"loyalty cheque {gone} was already spent on {day} (ticket {spent.id}): "
            "keep it and send the customer to the welcome desk"
        )
        assert asked(conn, ok, card=OTHER).message == (
            f"loyalty cheque {ok} was issued to another card (*********0018): identify that card (F2) to spend it"
        )
        later = NOW + timedelta(days=91)
        expiry = format_date(cheque_book.find(conn, ok).expires_at)
        assert asked(conn, ok, now=later).message == (
            f"loyalty cheque {ok} expired on {expiry}: it can no longer be spent"
        )
        granted = asked(conn, ok)
        assert granted.found and (granted.cheque.cents, granted.cheque.card) == (500, CARD)
        assert asked(conn, ok, terminal="S001-T05").message == (
            f"loyalty cheque {ok} is being spent at till S001-T02: a cheque pays once"
        )
        assert cheque_book.cancel(conn, ok, "lost")
        assert asked(conn, ok).message == (
            f"loyalty cheque {ok} was cancelled at the welcome desk: it can no longer be spent"
        )
        assert store.stats()["cheques"]["cancelled"] == {"count": 1, "cents": 500}
    finally:
        store.close()


def test_serials_are_unique_per_till_ticket_and_rank():
    assert (
        len({cheque_serial(t, s, r, 500) for t in ("S001-T01", "S001-T02", "S002-T01") for s in (1, 2) for r in (0, 1)})
        == 12
    )


def test_cheques_head_office_issues_on_its_schedule_get_serials_too(tmp_path):
    from programme.points import default_rules
    from programme.rules import Cheques
    from server.desk.cheques import run_cheques

    rules = msgspec.structs.replace(
        default_rules(), cheques=Cheques(threshold_points=500, cheque_cents=500, issue="schedule")
    )
    store = open_store(str(tmp_path / "server.db"))
    try:
        store.conn.execute(
            "INSERT INTO ledger (card, kind, points, rule, cause, ticket_id, at) VALUES "
            "(?, 'adjust', 1230, 'gift', 'desk:1', NULL, ?)",
            (CARD, NOW.isoformat()),
        )
        assert run_cheques(store.conn, rules, NOW.date())["cheques"] == 2
        rows = store.conn.execute(
            "SELECT serial, card, cents, state, issue_ticket FROM cheques ORDER BY serial"
        ).fetchall()
        assert [(card, cents, state, ticket) for _, card, cents, state, ticket in rows] == [
            (CARD, 500, "issued", None)
        ] * 2
        assert all(serial.startswith("00000000") and len(serial) == 26 for serial, *_ in rows)
        run_cheques(store.conn, rules, NOW.date())  # the same day again: nothing more
        assert store.stats()["cheques"]["issued"]["count"] == 2
    finally:
        store.close()


def test_a_cheque_spent_before_its_issue_reached_head_office_is_spent_once_it_does(tmp_path, office_target):
    issued = issue_two(tmp_path)
    serial = cheque_serial("S001-T01", issued.seq, 0, 500)
    spent = spend(tmp_path, "S001-T02", serial)
    assert ingest(office_target, [spent]) == [
        (spent.id, f"cheque {serial} is not known to head office: not issued, or its till has not synced yet")
    ]
    ingest(office_target, [issued])  # the issuing till syncs later
    store = open_store(office_target)
    try:
        cheque = cheque_book.find(store.conn, serial)
        assert (cheque.state, cheque.spent_ticket) == ("spent", spent.id)
        assert store.stats()["cheques"]["outstanding"] == {"count": 1, "cents": 500}
    finally:
        store.close()
