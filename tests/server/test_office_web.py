"""Head-office pages with the Flask test client on the known data set: roles, value, sync health,
ticket explorer, segments and campaigns (pushed to a real Mosquitto); on SQLite and on PostgreSQL."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import msgspec
import pytest

from programme.ticket import GENESIS_HASH, Tender, Ticket, make_line
from server.ingest.store import DeadLetter
from server.ingest.store_api import open_store
from sync import topics
from sync.codec import encode_ticket

from ..fixtures.desk import Desk, error_of, text
from ..fixtures.headoffice import CARDS, chained, close_office, store_tickets
from ..fixtures.mqtt import Listener
from ..fixtures.signing import opened

pytestmark = pytest.mark.usefixtures("english")  # written when the pages spoke only English

OFFICE_ROUTES = [
    ("GET", "/office/"),
    ("GET", "/office/value"),
    ("GET", "/office/sync"),
    ("GET", "/office/tickets"),
    ("GET", "/office/tickets.csv"),
    ("GET", "/office/tickets/S001-T01-00000001"),
    ("GET", "/office/segments"),
    ("GET", "/office/segments.csv"),
    ("GET", "/office/campaigns"),
    ("POST", "/office/campaigns"),
    ("POST", "/office/campaigns/push"),
    ("GET", "/office/campaigns/1"),
    ("POST", "/office/campaigns/1/stop"),
    ("POST", "/office/dead-letters/1/replay"),
    ("POST", "/office/next-offers/types"),
    ("POST", "/office/next-offers/choose"),
    ("GET", "/office/exceptions"),
]
PERIOD = "start=2026-01-01&end=2026-01-31"


def test_every_office_route_is_for_head_office_and_admin(office):
    routes = {
        (m, r.rule)
        for r in office.app.url_map.iter_rules()
        if r.endpoint.startswith("office")
        for m in r.methods - {"HEAD", "OPTIONS"}
    }
    assert len(routes) == len(OFFICE_ROUTES)
    for rule in office.app.url_map.iter_rules():
        if rule.endpoint.startswith("office"):
            assert office.app.view_functions[rule.endpoint].roles == ("head_office", "admin")
    manager = office.client("card_manager")
    for method, url in OFFICE_ROUTES:
        send = manager.get if method == "GET" else lambda u: office.post(manager, u)
        response = send(url)
        assert response.status_code == 403, url
        assert error_of(response) == "your role (card_manager) may not do this: ask a head_office or admin"
        anonymous = office.app.test_client().get(url) if method == "GET" else None
        assert anonymous is None or anonymous.location.startswith("/login")
    assert office.client("head_office").get("/office/").location == "/office/value"


def test_value_page_shows_charts_and_numbers(office):
    page = text(office.client("head_office").get(f"/office/value?{PERIOD}"))
    assert page.count("<svg") == 2 and "Pareto: share of sales" in page
    assert 'id="customers">10<' in page and 'id="top20">80.0% of sales<' in page
    assert 'id="liability">€20.50' in page  # 2,050 points at 1 cent
    assert "below zero" in page and "top decile" in page
    assert '<td>S001</td><td class="num">4</td>' in page
    refused = office.client("admin").get("/office/value?start=2026-02-01&end=2026-01-01")
    assert refused.status_code == 400
    assert error_of(refused) == "the period ends (2026-01-01) before it starts (2026-02-01): swap the dates"
    assert error_of(office.client("admin").get("/office/value?start=yesterday")) == (
        "start 'yesterday' is not a date: write it as YYYY-MM-DD"
    )


def test_sync_health_shows_a_till_with_a_gap_in_red(office):
    now = datetime.now(timezone.utc)
    tickets = [
        Ticket(
            id=f"S003-T01-{seq:08d}",
            terminal="S003-T01",
            seq=seq,
            store="S003",
            cashier="c1",
            opened_at=now,
            closed_at=now,
            lines=[make_line("3017620422003", 1, 100)],
            tenders=[Tender(kind="cash", cents=100)],
            total_cents=100,
            card=None,
            points=[],
            rules_version="base-1",
        )
        for seq in (1, 2, 5)
    ]
    store_tickets(office.db_path, chained(tickets, GENESIS_HASH))
    with office.conn:
        office.conn.execute(
            "UPDATE terminals SET last_seen = ? WHERE terminal = 'S003-T01'",
            ((now - timedelta(minutes=5)).isoformat(),),
        )
    page = text(office.client("head_office").get("/office/sync"))
    assert 'id="totals">1 red, 3 amber, 0 green<' in page
    row = page.split('id="till-S003-T01">')[1].split("</tr>")[0]
    assert 'class="health red"' in row and "3-4" in row and "2 ticket(s) missing" in row
    seen = (now - timedelta(minutes=5)).astimezone(ZoneInfo("Europe/Paris"))
    assert f"<td>{seen:%d/%m/%Y %H:%M}</td>" in row  # last seen, as read, in Paris time
    amber = page.split('id="till-S001-T01">')[1].split("</tr>")[0]
    assert 'class="health amber"' in amber and "not seen for" in amber
    with office.conn:
        office.conn.execute(
            "INSERT INTO discrepancies (ticket_id, rules_version, till_points, server_points, reason, "
            "detected_at) VALUES ('S003-T01-00000002', 'base-1', 5, 4, 'differs', ?)",
            (now.isoformat(),),
        )
    row = text(office.client("head_office").get("/office/sync")).split('id="till-S003-T01">')[1].split("</tr>")[0]
    assert "1 points discrepancy(ies)" in row


def test_ticket_explorer_filters_detail_and_export(office):
    client = office.client("head_office")

    def ids(query: str) -> list[str]:
        page = client.get(f"/office/tickets?{query}").get_data(as_text=True)
        cells = page.split('<td class="mono"><a href="/office/tickets/')[1:]
        return [cell.split('">')[1].split("<")[0] for cell in cells]

    assert len(ids("")) == 13
    assert len(ids("store=S002")) == 9
    assert ids(f"card={CARDS['A']}") == ["S001-T01-00000004", "S001-T01-00000002"]
    assert len(ids("min=100")) == 5 and ids("min=150&max=240") == ["S001-T01-00000002"]
    assert len(ids("start=2026-01-20&end=2026-01-30")) == 3
    assert ids("terminal=S002-T02") == ["S002-T02-00000001"]
    assert len(ids("gtin=3228857000906")) == 13 and ids("gtin=3017620422003") == []
    assert error_of(client.get("/office/tickets?min=lots")) == "min 'lots' is not an amount: write euros like 12.50"
    exported = list(csv.reader(io.StringIO(client.get("/office/tickets.csv?store=S001").get_data(as_text=True))))
    assert exported[0][:3] == ["id", "terminal", "seq"] and len(exported) == 5
    detail = text(client.get("/office/tickets/S001-T01-00000004"))
    assert 'id="total">€500.00' in detail and "earn 500 points: base: 1 point per euro" in detail
    assert 'id="signature">unsigned<' in detail and 'id="chain">chained to the previous ticket<' in detail
    missing = client.get("/office/tickets/S009-T01-00000001")
    assert error_of(missing) == "no ticket S009-T01-00000001: search for it in the ticket explorer"


def test_segment_counts_and_export_honour_consent(office):
    client = office.client("head_office")
    page = text(client.get(f"/office/segments?{PERIOD}&min_m=5"))
    assert 'id="segment-customers">2<' in page and 'id="contact-email">1<' in page
    response = client.get(f"/office/segments.csv?{PERIOD}&channel=email")
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[1][:3] == ["1", "Customer A", "a@example.org"] and len(rows) == 2
    assert response.headers["X-Left-Out-Without-Consent"] == "9"


@pytest.mark.timeout(60)
def test_campaign_created_pushed_to_a_till_and_analysed(office, mosquitto):
    client = office.client("head_office")
    response = office.post(
        client,
        "/office/campaigns",
        name="Best customers",
        kind="bonus_points",
        value="200",
        starts="2026-01-01",
        ends="2099-01-31",
        stores="S001",
        control_percent="30",
        seed="3",
        start="2026-01-01",
        end="2026-01-31",
        min_r="1",
        min_f="1",
        min_m="1",
        consent="",
    )
    assert response.status_code == 302 and response.location == "/office/campaigns/1", error_of(response)
    page = text(client.get("/office/campaigns/1"))
    assert 'id="groups">7 / 3<' in page and 'id="pushed">not yet<' in page and 'id="cost">0 points<' in page
    no_broker = office.post(client, "/office/campaigns/push")
    assert error_of(no_broker) == (
        "no broker configured: start the web app with --broker (or LOYALTY_BROKER) to push offers"
    )
    office.app.config["BROKER"] = mosquitto.url
    assert office.post(client, "/office/campaigns/push").status_code == 302
    till = Listener(mosquitto.port, topics.OFFERS)
    try:
        assert till.wait_for(lambda messages: len(messages) == 1)
        offer = msgspec.json.decode(opened("offers", till.messages[0][1]))["offers"][0]
    finally:
        till.close()
    assert (offer["campaign"], offer["points"], offer["stores"], len(offer["cards"])) == (1, 200, ["S001"], 7)
    assert 'id="pushed">not yet<' not in text(client.get("/office/campaigns/1"))
    # Stopped: pushed again at once, the tills get no offer; its last day is today.
    stopped = office.post(client, "/office/campaigns/1/stop")
    assert stopped.status_code == 302 and stopped.location == "/office/campaigns/1", error_of(stopped)
    till = Listener(mosquitto.port, topics.OFFERS)
    try:
        assert till.wait_for(lambda messages: len(messages) == 1)
        assert msgspec.json.decode(opened("offers", till.messages[0][1]))["offers"] == []
    finally:
        till.close()
    today = f"{datetime.now(timezone.utc).date():%d/%m/%Y}"
    page = text(client.get("/office/campaigns/1"))
    assert f"(its last day {today})" in page and 'id="stop"' not in page
    again = office.post(client, "/office/campaigns/1/stop")
    assert error_of(again).startswith("campaign 1 was already stopped at ")
    bad = office.post(
        client,
        "/office/campaigns",
        name="x",
        kind="bonus_points",
        value="ten",
        starts="2026-01-01",
        ends="2026-01-31",
        start="2026-01-01",
        end="2026-01-31",
    )
    assert error_of(bad) == "value 'ten' is not a whole number"


def test_a_dead_letter_is_replayed_after_a_fix(office):
    now = datetime.now(timezone.utc)
    good = chained(
        [
            Ticket(
                id="S004-T01-00000001",
                terminal="S004-T01",
                seq=1,
                store="S004",
                cashier="c1",
                opened_at=now,
                closed_at=now,
                lines=[make_line("3017620422003", 1, 300)],
                tenders=[Tender(kind="cash", cents=300)],
                total_cents=300,
                card=None,
                points=[],
                rules_version="base-1",
            )
        ],
        GENESIS_HASH,
    )[0]
    store = open_store(office.db_path)  # as ingest keeps messages it could not take (here: a since-fixed server bug)
    store.ingest(
        [],
        [
            DeadLetter(topics.tickets("S004-T01"), "server bug, fixed since", encode_ticket(good), "S004-T01", 1),
            DeadLetter(topics.tickets("S004-T01"), "malformed JSON", b"{not json", "S004-T01", 2),
        ],
        now.isoformat(),
    )
    store.close()
    client = office.client("head_office")
    assert "2 dead letter(s)" in text(client.get("/office/sync"))
    response = office.post(client, "/office/dead-letters/1/replay")
    assert response.status_code == 302
    page = text(client.get("/office/sync"))
    assert "Dead letter 1 replayed: ticket S004-T01-00000001 stored." in page
    assert "1 dead letter(s)" in page and 'id="replay-1"' not in page and 'id="replay-2"' in page
    assert office.count("tickets") == 14
    again = office.post(client, "/office/dead-letters/1/replay")
    assert error_of(again) == "dead letter 1 was already replayed"
    broken = office.post(client, "/office/dead-letters/2/replay")
    assert error_of(broken).startswith("dead letter 2 still fails (malformed JSON: ")
    assert error_of(broken).endswith("): fix the cause, then replay it")
    assert error_of(office.post(client, "/office/dead-letters/9/replay")) == (
        "no dead letter 9: pick one from the sync health page"
    )


def test_pages_work_on_an_empty_database(tmp_path, fast_argon2, office_target):
    desk = Desk(tmp_path, office_target)
    client = desk.client("admin")
    for method, url in OFFICE_ROUTES:
        if method == "GET" and not url.endswith("/1") and "00000001" not in url:
            response = client.get(url)
            assert response.status_code in (200, 302), (url, error_of(response))
    assert "No ticket matches." in text(client.get("/office/tickets"))
    assert "No campaign yet." in text(client.get("/office/campaigns"))
    close_office(desk)
