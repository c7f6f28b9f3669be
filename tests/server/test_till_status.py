"""Tills report their outbox backlog; head office keeps the last report and shows it in sync health."""

from __future__ import annotations

import html
from datetime import datetime, timedelta, timezone

import pytest

from server.ingest import till_status
from server.analytics.health import till_health
from server.ingest.store import Store
from server.ingest.uplink import Uplink
from sync import topics
from sync.broker_url import parse_broker_url
from sync.codec import encode
from sync.reporter import StatusReporter
from sync.status import TillStatus

from ..fixtures.chain import Till, start_ingestor
from ..fixtures.desk import Desk
from ..fixtures.headoffice import build_known_set
from ..fixtures.mqtt import RawPublisher

pytestmark = pytest.mark.usefixtures("english")  # written when the pages spoke only English

TILL = "S001-T01"


def kept(db) -> dict[str, dict]:
    store = Store(db)
    try:
        return till_status.latest(store.conn)
    finally:
        store.close()


@pytest.mark.timeout(60)
def test_a_till_reports_its_backlog_then_zero_after_sync(tmp_path, mosquitto):
    db = tmp_path / "server.db"
    uplink = Uplink(str(db), parse_broker_url(mosquitto.url)).start()
    assert uplink.wait_subscribed(10)
    till = Till(tmp_path, TILL)
    till.sell(30)  # offline: 30 tickets wait in the outbox
    sender = till.connect(mosquitto.url)
    reporter = StatusReporter(sender, rules_version=lambda conn: "base-1").start()
    ingestor = None
    try:
        assert reporter.wait_report(lambda s: s.backlog == 30, 10), "no report of the 30 tickets on connect"
        assert uplink.wait_until(lambda u: u.statuses >= 1, 10)
        row = kept(db)[TILL]
        assert (row["backlog"], row["last_seq"], row["last_acked_seq"], row["rules_version"]) == (30, 30, 0, "base-1")
        assert row["oldest_unacked_at"] is not None and row["software"]
        ingestor = start_ingestor(db, mosquitto.url)  # head office comes up: the till syncs
        assert sender.wait_synced(30)
        assert reporter.wait_report(lambda s: s.backlog == 0, 10), "no report when the backlog drained"
        assert uplink.wait_until(lambda u: kept(db)[TILL]["backlog"] == 0, 10)
        row = kept(db)[TILL]
        assert (row["backlog"], row["last_seq"], row["last_acked_seq"], row["oldest_unacked_at"]) == (0, 30, 30, None)
    finally:
        reporter.stop()
        till.close()
        if ingestor:
            ingestor.stop()
        uplink.stop()


@pytest.mark.timeout(60)
def test_the_server_sees_the_retained_report_after_a_restart(tmp_path, mosquitto):
    db = tmp_path / "server.db"
    till = Till(tmp_path, TILL)
    till.sell(3)
    sender = till.connect(mosquitto.url)
    reporter = StatusReporter(sender).start()
    try:
        assert reporter.wait_report(lambda s: s.backlog == 3, 10)
        uplink = Uplink(str(db), parse_broker_url(mosquitto.url)).start()  # started after the report was sent
        try:
            assert uplink.wait_until(lambda u: u.statuses >= 1, 10)
        finally:
            uplink.stop()
        assert kept(db)[TILL]["backlog"] == 3
    finally:
        reporter.stop()
        till.close()


@pytest.mark.timeout(60)
def test_a_malformed_status_or_request_lands_in_dead_letters_with_its_reason(tmp_path, mosquitto):
    db = tmp_path / "server.db"
    uplink = Uplink(str(db), parse_broker_url(mosquitto.url)).start()
    assert uplink.wait_subscribed(10)
    raw = RawPublisher(mosquitto.port)
    try:
        raw.publish(topics.status("S001-T02"), b'{"schema": 1, "terminal": "S001-T02"')
        good = TillStatus(
            schema=1,
            terminal="S001-T09",
            sent_at=datetime.now(timezone.utc),
            backlog=0,
            oldest_unacked_at=None,
            last_seq=0,
            last_acked_seq=0,
            rules_version=None,
            software="x",
        )
        raw.publish(topics.status("S001-T03"), encode(good))  # another till's name on S001-T03's topic
        raw.publish(topics.requests("S001-T04"), b'{"schema": 1, "kind": "refund", "id": "r1"}')
        assert uplink.wait_until(lambda u: u.dead_letters == 3, 10)
    finally:
        raw.close()
        uplink.stop()
    store = Store(db)
    try:
        letters = [(d["topic"], d["reason"]) for d in store.dead_letters()]
    finally:
        store.close()
    assert letters == [
        ("loyalty/v1/up/S001-T02/status", "bad status: malformed JSON: Input data was truncated"),
        (
            "loyalty/v1/up/S001-T03/status",
            "bad status: terminal mismatch: topic is for S001-T03 but the status says S001-T09",
        ),
        ("loyalty/v1/up/S001-T04/requests", "bad request: Invalid value 'refund' - at `$.kind`"),
    ]
    assert kept(db) == {}


def report(conn, terminal: str, now: datetime, backlog: int, waiting: timedelta | None, silent: timedelta) -> None:
    till_status.record_status(
        conn,
        TillStatus(
            schema=1,
            terminal=terminal,
            sent_at=now - silent,
            backlog=backlog,
            oldest_unacked_at=now - waiting if waiting else None,
            last_seq=40,
            last_acked_seq=40 - backlog,
            rules_version="base-1",
            software="0.1.0",
        ),
        (now - silent).isoformat(),
    )


def test_health_is_amber_for_a_reported_backlog_and_red_for_a_silent_till_with_one(tmp_path):
    now = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)
    store = Store(tmp_path / "server.db")
    conn = store.conn
    try:
        conn.executemany(
            "INSERT INTO terminals (terminal, contiguous_seq, max_seq, last_seen) VALUES (?, 40, 40, ?)",
            [(t, (now - timedelta(minutes=1)).isoformat()) for t in ("S001-T01", "S001-T02", "S001-T03")],
        )
        report(conn, "S001-T01", now, 7, timedelta(minutes=12, seconds=30), timedelta(seconds=20))
        report(conn, "S001-T02", now, 2, timedelta(minutes=3), timedelta(seconds=20))  # draining normally
        report(conn, "S001-T03", now, 5, timedelta(hours=3), timedelta(minutes=90))
        rows = {r["terminal"]: r for r in till_health(conn, now)}
    finally:
        store.close()
    assert (rows["S001-T01"]["status"], rows["S001-T01"]["reasons"]) == (
        "amber",
        ["backlog of 7 ticket(s) reported, the oldest waiting for 12 min"],
    )
    assert (rows["S001-T01"]["backlog"], rows["S001-T01"]["backlog_age"]) == (7, "12 min")
    assert (rows["S001-T02"]["status"], rows["S001-T02"]["reasons"], rows["S001-T02"]["backlog"]) == ("green", [], 2)
    assert (rows["S001-T03"]["status"], rows["S001-T03"]["reasons"]) == (
        "red",
        ["no status report for 90 min", "backlog of 5 ticket(s) reported, the oldest waiting for 3 h"],
    )


def test_sync_health_page_shows_the_reported_backlog(tmp_path, fast_argon2):
    desk = Desk(tmp_path)
    build_known_set(desk.db_path)
    try:
        now = datetime.now(timezone.utc)
        with desk.conn:
            desk.conn.execute("UPDATE terminals SET last_seen = ?", (now.isoformat(),))
        report(desk.conn, "S001-T01", now, 7, timedelta(minutes=12, seconds=30), timedelta(seconds=20))
        page = html.unescape(desk.client("head_office").get("/office/sync").get_data(as_text=True))
    finally:
        desk.conn.close()
    assert '<th class="num">Backlog (reported)</th>' in page
    row = page.split('id="till-S001-T01">')[1].split("</tr>")[0]
    assert 'class="health amber"' in row and ">7 (12 min)</td>" in row
    assert "backlog of 7 ticket(s) reported, the oldest waiting for 12 min" in row
    other = page.split('id="till-S002-T01">')[1].split("</tr>")[0]
    assert 'title="no status report">-</td>' in other


def test_a_status_dead_letter_is_closed_from_the_page(tmp_path, fast_argon2):
    from server.ingest.store import DeadLetter

    desk = Desk(tmp_path)
    build_known_set(desk.db_path)
    now = datetime.now(timezone.utc)
    late = TillStatus(
        schema=1,
        terminal="S001-T01",
        sent_at=now,
        backlog=0,
        oldest_unacked_at=None,
        last_seq=5,
        last_acked_seq=5,
        rules_version=None,
        software="0.1.0",
    )
    store = Store(desk.db_path)  # as the uplink keeps what it could not take
    first = store.conn.execute("SELECT coalesce(max(id), 0) + 1 FROM dead_letters").fetchone()[0]
    store.ingest(
        [],
        [
            DeadLetter(topics.status("S001-T01"), "bad status: malformed JSON", b"{", "S001-T01"),
            DeadLetter(topics.status("S001-T01"), "server bug, fixed since", encode(late), "S001-T01"),
        ],
        now.isoformat(),
    )
    store.close()
    try:
        with desk.conn:
            desk.conn.execute("UPDATE terminals SET last_seen = ?", (now.isoformat(),))
        client = desk.client("head_office")
        row = html.unescape(client.get("/office/sync").get_data(as_text=True)).split('id="till-S001-T01">')[1]
        assert "2 dead letter(s)" in row.split("</tr>")[0]
        assert desk.post(client, f"/office/dead-letters/{first}/replay").status_code == 302
        assert desk.post(client, f"/office/dead-letters/{first + 1}/replay").status_code == 302
        page = html.unescape(client.get("/office/sync").get_data(as_text=True))
    finally:
        desk.conn.close()
    assert f"Dead letter {first} closed: dismissed." in page and f"Dead letter {first + 1} closed: status kept." in page
    row = page.split('id="till-S001-T01">')[1].split("</tr>")[0]
    reasons = row.rsplit("<td>", 1)[1]
    assert reasons == "3 points discrepancy(ies)</td>"  # the known set's own; the dead letters no longer count
    assert 'title="reported ' in row and '">0</td>' in row  # the kept status: backlog 0


@pytest.mark.timeout(90)
def test_on_postgresql_status_kept_and_requests_answered(tmp_path, mosquitto, postgres_url):
    from server.ingest.receive import Ingestor
    from server.ingest.store_api import open_store
    from terminal.requests import Requester

    url = parse_broker_url(mosquitto.url)
    ingestor = Ingestor(postgres_url, url, require_registered=False).start()
    uplink = Uplink(postgres_url, url).start()
    till = Till(tmp_path, TILL)
    requester = Requester("S001-T02", url).start()
    reporter = None
    try:
        assert ingestor.wait_connected(10) and uplink.wait_subscribed(10) and requester.ready.wait(10)
        till.sell(5)
        sender = till.connect(mosquitto.url)
        reporter = StatusReporter(sender).start()
        assert sender.wait_synced(30)
        assert uplink.wait_until(lambda u: u.statuses >= 1, 10)
        store = open_store(postgres_url)
        try:
            card = store.conn.execute("SELECT card FROM tickets WHERE card IS NOT NULL LIMIT 1").fetchone()[0]
            points = store.balances([card])[card]
            assert uplink.wait_until(lambda u: till_status.latest(store.conn)[TILL]["backlog"] == 0, 10)
        finally:
            store.close()
        reply = requester.ask("balance", 10, card=card)
        assert (reply.found, reply.balance.points, reply.balance.registered, reply.balance.seq) == (
            True,
            points,
            False,
            0,
        )
        reply = requester.ask("ticket", 10, ticket_id=f"{TILL}-00000002")
        assert reply.found and b'"id":"S001-T01-00000002"' in bytes(reply.ticket)
    finally:
        if reporter:
            reporter.stop()
        requester.stop()
        till.close()
        uplink.stop()
        ingestor.stop()
