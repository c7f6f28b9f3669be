"""Head office's journeys in a real headless Chromium: value page with its charts, explorer filter,
sync health with a till behind, a segment built and exported, a campaign created, pushed (a till
receives it) and analysed; a large period computed in the background (the page reloads itself), then its
figures served with their age while tickets arrive. LOYALTY_SCREENSHOTS=1 refreshes docs/screenshots/office-*.png."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import msgspec
import pytest
from argon2 import PasswordHasher

from programme.ticket import GENESIS_HASH, Tender, Ticket, make_line
from server.desk import accounts
from server.analytics import explorer
from server.analytics.generate import Plan, generate
from server.storage.desk_db import open_db
from server.web import create_app
from sync import topics

from ..fixtures.headoffice import chained, store_tickets
from ..fixtures.mqtt import Listener
from ..fixtures.signing import opened
from ..fixtures.browser import by_id, click_through, serve, shot, wait_text

pytestmark = pytest.mark.timeout(120)
END = datetime.now(timezone.utc).date() - timedelta(days=1)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """Generated data (300 customers, 5,000 tickets, 4 stores), a till with a gap, a head-office user."""
    tmp = tmp_path_factory.mktemp("office")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1))
        db_path = str(tmp / "server.db")
        app = create_app({"DB": db_path}, instance_path=str(tmp / "instance"))
        conn = open_db(db_path)
        conn.row_factory = None
        generate(conn, Plan(300, 5000, 4, seed=5, end=END))
        now = datetime.now(timezone.utc)
        behind = [
            Ticket(
                id=f"S009-T01-{seq:08d}",
                terminal="S009-T01",
                seq=seq,
                store="S009",
                cashier="c1",
                opened_at=now,
                closed_at=now,
                lines=[make_line("3017620422003", 1, 250)],
                tenders=[Tender(kind="cash", cents=250)],
                total_cents=250,
                card=None,
                points=[],
                rules_version="base-1",
            )
            for seq in (1, 2, 3, 7)
        ]
        store_tickets(db_path, chained(behind, GENESIS_HASH))
        password = accounts.create_user(conn, "hugo", "head_office")
        with serve(app) as url:
            yield {"url": url, "conn": conn, "password": password, "app": app}
        conn.close()


def test_log_in_and_see_customer_value(site, browser):
    browser.get(site["url"] + "/office/value")
    by_id(browser, "name").send_keys("hugo")
    by_id(browser, "password").send_keys(site["password"])
    by_id(browser, "login").click()
    wait_text(browser, "h1", "Customer value")
    assert len(browser.find_elements("css selector", "svg.pygal-chart")) == 2
    assert int(by_id(browser, "customers").text) > 200
    share = float(by_id(browser, "top20").text.split("%")[0])
    assert 50 < share < 95
    assert len(browser.find_elements("css selector", "#deciles tbody tr")) == 10
    shot(browser, "office-value")


def test_explorer_filter_by_store_and_open_a_ticket(site, browser):
    by_id(browser, "office-nav").find_element("link text", "Tickets").click()
    wait_text(browser, "h1", "Tickets")
    by_id(browser, "f-store").send_keys("S002")
    by_id(browser, "f-min").send_keys("20")
    by_id(browser, "filter").click()
    wait_text(browser, "#matching", "matching")
    rows = browser.find_elements("css selector", "#tickets tbody tr")
    assert len(rows) == 50
    cells = [r.find_elements("css selector", "td") for r in rows]
    assert {c[2].text for c in cells} == {"S002"}
    assert all(float(c[5].text.replace(",", "").lstrip("€").split()[0]) >= 20 for c in cells)
    expected = (
        site["conn"].execute("SELECT count(*) FROM tickets WHERE store = 'S002' AND total_cents >= 2000").fetchone()[0]
    )
    shown = f"{expected}" if expected < explorer.COUNT_LIMIT else f"{explorer.COUNT_LIMIT}+"
    assert by_id(browser, "matching").text == f"{shown} matching"
    shot(browser, "office-tickets")
    cells[0][0].find_element("css selector", "a").click()
    wait_text(browser, "#status", "chained to the previous ticket")
    shot(browser, "office-ticket")


def test_sync_health_shows_the_till_behind(site, browser):
    browser.get(site["url"] + "/office/sync")
    wait_text(browser, "#tills", "S009-T01")
    row = by_id(browser, "till-S009-T01")
    assert row.find_element("css selector", ".health").text.lower() == "red"
    assert "4-6" in row.text and "3 ticket(s) missing" in row.text
    shot(browser, "office-sync")


def test_build_a_segment_and_export_it(site, browser):
    from selenium.webdriver.support.ui import Select

    browser.get(site["url"] + "/office/segments")
    Select(by_id(browser, "s-min_m")).select_by_visible_text("4")
    Select(by_id(browser, "s-consent")).select_by_visible_text("email")
    click_through(browser, "count")
    wait_text(browser, "h1", "Segments")
    count = int(by_id(browser, "segment-customers").text)
    assert 0 < count < 300 and int(by_id(browser, "contact-email").text) == count
    shot(browser, "office-segments")
    href = by_id(browser, "export-email").get_attribute("href")
    exported = browser.execute_async_script(
        "const done = arguments[arguments.length - 1];fetch(arguments[0]).then(r => r.text()).then(done);", href
    )
    lines = exported.strip().splitlines()
    assert lines[0].startswith("customer_id,name,email") and len(lines) == count + 1


def test_create_push_and_analyse_a_campaign(site, browser, mosquitto):
    from selenium.webdriver.support.ui import Select

    site["app"].config["BROKER"] = mosquitto.url
    browser.get(site["url"] + "/office/campaigns")
    by_id(browser, "c-name").send_keys("Spring bonus")
    by_id(browser, "c-value").clear()
    by_id(browser, "c-value").send_keys("250")
    for field, day in (("c-starts", END - timedelta(days=60)), ("c-ends", END + timedelta(days=30))):
        browser.execute_script("arguments[0].value = arguments[1]", by_id(browser, field), day.isoformat())
    by_id(browser, "c-control").clear()
    by_id(browser, "c-control").send_keys("20")
    Select(by_id(browser, "s-min_f")).select_by_visible_text("3")
    by_id(browser, "c-offer-category").send_keys("grocery")  # the offer's condition
    by_id(browser, "c-min-basket").send_keys("20,50")
    shot(browser, "office-campaigns")
    by_id(browser, "create").click()
    wait_text(browser, ".flash", "created")
    targets, controls = (int(n) for n in by_id(browser, "groups").text.split(" / "))
    assert controls == round((targets + controls) * 0.2) and targets > 0
    assert by_id(browser, "interval").text  # an interval, or why there is none
    shot(browser, "office-campaign")
    browser.get(site["url"] + "/office/campaigns")
    assert "250 bonus points, for a purchase in grocery, from a basket of €20.50" in by_id(browser, "campaigns").text
    by_id(browser, "push").click()
    wait_text(browser, ".flash", "1 offer(s) pushed to every till (retained).")
    till = Listener(mosquitto.port, topics.OFFERS)
    try:
        assert till.wait_for(lambda messages: len(messages) == 1)
        offer = msgspec.json.decode(opened("offers", till.messages[0][1]))["offers"][0]
    finally:
        till.close()
    assert offer["name"] == "Spring bonus" and offer["points"] == 250
    assert (offer["category"], offer["min_basket_cents"]) == ("grocery", 2050)
    assert date.fromisoformat(offer["ends"]) == END + timedelta(days=30)


def test_value_page_first_computes_a_large_period_then_serves_it_while_tickets_arrive(site, browser, monkeypatch):
    from server.analytics import dashboard
    from server.web import office

    from ..fixtures.headoffice import last_hash

    monkeypatch.setattr(dashboard, "INLINE_ROWS", 0)  # as if the period were too large to compute in a request
    monkeypatch.setattr(office, "COMPUTING_REFRESH_S", 1)
    browser.get(site["url"] + f"/office/value?start={END - timedelta(days=29)}&end={END}")
    assert "being computed for the first time" in by_id(browser, "freshness").text
    wait_text(browser, "#freshness", "up to date.")  # the page reloaded itself (meta refresh) once they were ready
    assert int(by_id(browser, "customers").text) > 100
    now = datetime.now(timezone.utc)
    more = [
        Ticket(
            id=f"S009-T01-{seq:08d}",
            terminal="S009-T01",
            seq=seq,
            store="S009",
            cashier="c1",
            opened_at=now,
            closed_at=now,
            lines=[make_line("3017620422003", 1, 250)],
            tenders=[Tender(kind="cash", cents=250)],
            total_cents=250,
            card=None,
            points=[],
            rules_version="base-1",
        )
        for seq in (8, 9, 10)
    ]
    db_path = site["app"].config["DB"]
    store_tickets(db_path, chained(more, last_hash(db_path, "S009-T01")))
    browser.refresh()
    wait_text(browser, "#freshness", "; 3 tickets arrived since, being refreshed.")
    assert site["app"].extensions["dashboard_refresher"].wait_idle(60)
    browser.refresh()
    wait_text(browser, "#freshness", "up to date.")
