"""The card manager's journeys in a real headless Chromium against the desk app served in-process.

The pictures in docs/desk.md and docs/fr/desk.md come from docs/screenshots.py, in both languages.
"""

from __future__ import annotations

import json

import pytest
from argon2 import PasswordHasher

from server.desk import accounts, cards, customers
from server.storage.desk_db import open_db
from server.web import create_app

from ..fixtures.browser import by_id, serve, wait_gone, wait_text
from ..fixtures.desk import CARD_A, CARD_B, CARD_C, sell_anonymously

pytestmark = pytest.mark.timeout(90)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The app on a free port with a card manager, and tickets already sold on CARD_A and CARD_B."""
    tmp = tmp_path_factory.mktemp("desk")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1))
        db_path = str(tmp / "server.db")
        app = create_app({"DB": db_path}, instance_path=str(tmp / "instance"))
        conn = open_db(db_path)
        password = accounts.create_user(conn, "claire", "card_manager")
        sell_anonymously(db_path, CARD_A, 5)  # 60 points, card not registered yet
        sell_anonymously(db_path, CARD_C, 1, terminal="S002-T03")  # another anonymous card
        with serve(app) as url:
            yield {"url": url, "conn": conn, "password": password}
        conn.close()


def customer_id_of(driver) -> int:
    return int(driver.current_url.rstrip("/").rsplit("/", 1)[1])


def test_log_in(site, browser):
    browser.get(site["url"] + "/customers")
    wait_text(browser, "h1", "Log in")
    by_id(browser, "name").send_keys("claire")
    by_id(browser, "password").send_keys("wrong")
    by_id(browser, "login").click()
    wait_text(browser, "#error", "wrong user name or password")
    by_id(browser, "password").send_keys(site["password"])
    by_id(browser, "name").clear()
    by_id(browser, "name").send_keys("claire")
    by_id(browser, "login").click()
    wait_text(browser, "#who", "claire card_manager")
    assert browser.find_element("css selector", "h1").text == "Customers"


def test_enrol_a_customer(site, browser):
    browser.get(site["url"] + "/customers/new")
    by_id(browser, "f-name").send_keys("Marie Curie")
    by_id(browser, "f-email").send_keys("marie@example.org")
    by_id(browser, "f-phone").send_keys("+33 6 12 34 56 78")
    by_id(browser, "f-postcode").send_keys("75005")
    by_id(browser, "f-consent_email").click()
    by_id(browser, "f-consent_profiling").click()
    by_id(browser, "save").click()
    wait_text(browser, "#customer-name", "Marie Curie")
    customer = customers.get(site["conn"], customer_id_of(browser))
    assert (customer["postcode"], customer["consent_email"], customer["consent_sms"]) == ("75005", 1, 0)
    browser.get(site["url"] + "/customers?q=0612345678")
    wait_text(browser, "table", "Marie Curie")


def test_register_a_card_that_has_anonymous_tickets_and_see_them_attach(site, browser):
    browser.get(site["url"] + "/cards/anonymous")
    wait_text(browser, "table", CARD_A)
    browser.get(site["url"] + "/customers?q=Curie")
    browser.find_element("link text", "Marie Curie").click()
    wait_text(browser, "#tickets", "No ticket yet.")
    by_id(browser, "new-card").send_keys("2900000000019")
    by_id(browser, "issue").click()
    wait_text(browser, "#error", "wrong check digit: expected 8, got 9")
    by_id(browser, "new-card").send_keys(CARD_A)
    by_id(browser, "issue").click()
    wait_text(browser, ".flash", f"Card {CARD_A} issued; 5 earlier ticket(s) attached to this customer.")
    assert by_id(browser, "balance").text == "60"
    assert len(browser.find_elements("css selector", "#tickets tr.ticket")) == 5
    browser.find_element("css selector", "#tickets summary").click()  # a ticket's lines
    wait_text(browser, "#tickets", "salmon fillet")


def test_replace_a_lost_card_and_see_the_balance_move(site, browser):
    from selenium.webdriver.support.ui import Select

    row = browser.find_element("xpath", f"//table[@id='cards']//tr[td[text()='{CARD_A}']]")
    row.find_element("css selector", "summary").click()
    row.find_element("css selector", "input.new-number").send_keys(CARD_B)
    Select(row.find_element("css selector", "select.why")).select_by_visible_text("lost")
    row.find_element("css selector", "button.replace-button").click()
    wait_text(browser, ".flash", f"Card {CARD_A} lost and replaced by {CARD_B}; 60 points moved.")
    assert by_id(browser, "balance").text == "60"
    old = browser.find_element("xpath", f"//table[@id='cards']//tr[td[text()='{CARD_A}']]").text
    new = browser.find_element("xpath", f"//table[@id='cards']//tr[td[text()='{CARD_B}']]").text
    assert "lost" in old and old.split()[-1] == "0" and "active" in new and "60" in new.split()
    wait_text(browser, "#ledger", f"card lost: balance moved to {CARD_B}")
    assert cards.hotlist(site["conn"])[0]["card"] == CARD_A


def test_adjust_points_with_a_reason_and_print_the_statement(site, browser):
    by_id(browser, "adjust-points").send_keys("-70")
    by_id(browser, "adjust-reason").send_keys("returned goods")
    by_id(browser, "adjust").click()
    wait_text(browser, "#error", f"adjustment of -70 points would take card {CARD_B} below zero (balance 60)")
    by_id(browser, "adjust-points").send_keys("25")
    by_id(browser, "adjust-reason").send_keys("apology for a till error")
    by_id(browser, "adjust").click()
    wait_text(browser, ".flash", "Adjusted by 25 points: apology for a till error.")
    assert by_id(browser, "balance").text == "85"
    wait_text(browser, "#audit", "apology for a till error")
    by_id(browser, "statement").click()
    wait_text(browser, "#statement", "desk adjustment: apology for a till error")
    assert by_id(browser, "closing").text == "85"
    browser.back()


def test_export_then_erase(site, browser):
    wait_text(browser, "#customer-name", "Marie Curie")
    customer_id = customer_id_of(browser)
    exported = browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch(document.getElementById('export-json').href).then(r => r.text()).then(done);"
    )
    data = json.loads(exported)
    assert data["customer"]["name"] == "Marie Curie" and len(data["tickets"]) == 5
    assert data["tickets"][0]["lines"][0]["gtin"] == "3017620422003"
    by_id(browser, "erase-confirm").send_keys("erase")
    by_id(browser, "erase").click()
    wait_text(browser, ".flash", "Personal data erased; tickets and points kept under erased-")
    assert by_id(browser, "customer-name").text.startswith("erased-")
    assert by_id(browser, "balance").text == "85"
    assert customers.get(site["conn"], customer_id)["email"] is None


def test_log_out_ends_the_session_and_guesses_are_told_when_to_try_again(site, browser):
    """Last: it logs claire out. A copy of her cookie, put back after logging out, no longer opens a page."""
    browser.get(site["url"] + "/customers")
    wait_text(browser, "#who", "claire card_manager")
    cookie = browser.get_cookie("session")
    browser.find_element("css selector", "nav form button").click()
    wait_text(browser, ".flash", "Logged out.")
    browser.delete_all_cookies()
    browser.add_cookie({"name": "session", "value": cookie["value"], "path": "/"})
    browser.get(site["url"] + "/customers")
    wait_text(browser, "h1", "Log in")

    accounts.create_user(site["conn"], "dora", "card_manager")

    for _ in range(accounts.FREE_ATTEMPTS + 1):
        by_id(browser, "name").clear()
        by_id(browser, "name").send_keys("dora")
        by_id(browser, "password").send_keys("a guess")
        button = by_id(browser, "login")
        button.click()
        # The answer is the log-in page again: wait until it replaced this one, not only for its heading.
        wait_gone(browser, button)
        wait_text(browser, "h1", "Log in")
    wait_text(browser, "#error", "too many failed log-ins for dora from this address: try again in ")
    assert by_id(browser, "error").text.endswith(" seconds, or ask an admin to unlock it")
