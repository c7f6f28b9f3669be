"""The desk in French first and in English, in a real headless Chromium: the user's language choice (the
selector in the header, kept with the user), money as `1 234,56 €`, days as `05/12/2026`."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest
from argon2 import PasswordHasher

from programme.i18n import format_money
from programme.ticket import make_line
from server.desk import accounts, cards, customers
from server.storage.desk_db import open_db
from server.web import create_app

from ..fixtures.browser import by_id, serve, wait_text
from ..fixtures.desk import CARD_A, ENROL, sell_anonymously

pytestmark = pytest.mark.timeout(90)
BIG = [make_line("3017620422003", 1, 123456, label="television")]  # one line of 1,234.56 euros


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A card manager, and a customer whose card bought one article of 1,234.56 euros."""
    tmp = tmp_path_factory.mktemp("desk-languages")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1))
        db_path = str(tmp / "server.db")
        app = create_app({"DB": db_path}, instance_path=str(tmp / "instance"))
        conn = open_db(db_path)
        password = accounts.create_user(conn, "claire", "card_manager")
        (sold,) = sell_anonymously(db_path, CARD_A, 1, lines=BIG)
        customer_id = customers.enrol(conn, ENROL, "seed")
        cards.issue(conn, customer_id, CARD_A, "seed")
        with serve(app) as url:
            yield {"url": url, "conn": conn, "password": password, "customer": customer_id, "ticket": sold}
        conn.close()


def text_content(browser, css: str) -> str:
    """What the page holds (Selenium's .text turns no-break spaces into plain ones)."""
    return browser.find_element("css selector", css).get_attribute("textContent")


def choose(browser, language: str) -> None:
    from selenium.webdriver.support.ui import Select

    Select(by_id(browser, "language")).select_by_value(language)
    by_id(browser, "language-apply").click()


def test_the_log_in_page_follows_the_selector_before_logging_in(site, browser):
    browser.get(site["url"] + "/login")
    choose(browser, "fr")
    wait_text(browser, "h1", "Se connecter")
    assert browser.find_element("css selector", "html").get_attribute("lang") == "fr"
    assert browser.find_element("css selector", "form.card label").text.startswith("Nom d'utilisateur")
    by_id(browser, "name").send_keys("claire")
    by_id(browser, "password").send_keys(site["password"])
    by_id(browser, "login").click()
    wait_text(browser, "#who", "claire card_manager")
    assert browser.find_element("css selector", "h1").text == "Clients"


def test_a_customer_page_in_french_then_in_english_as_the_user_chooses(site, browser):
    url = f"{site['url']}/customers/{site['customer']}"
    browser.get(url)
    wait_text(browser, "h2", "Coordonnées")
    total = "#tickets > tbody > tr.ticket > td:nth-child(5)"
    assert text_content(browser, total) == "1\u202f234,56\u00a0€" == format_money(123456, lang="fr")
    assert text_content(browser, total).replace("\u202f", " ").replace("\u00a0", " ") == "1 234,56 €"
    closed = text_content(browser, "#tickets > tbody > tr.ticket > td:nth-child(2)")
    assert closed[:10] == site["ticket"].closed_at.astimezone(ZoneInfo("Europe/Paris")).strftime("%d/%m/%Y")
    headers = [th.text for th in browser.find_elements("css selector", "#tickets > thead th")]
    assert headers == ["Ticket", "Clôturé", "Magasin", "Carte", "Total", "Gagnés", "Utilisés"]
    assert by_id(browser, "issue").text == "Attribuer la carte"
    choose(browser, "en")
    wait_text(browser, "h2", "Details")
    assert browser.current_url == url  # the selector brings the user back to the same page
    assert text_content(browser, total) == "€1,234.56"
    headers = [th.text for th in browser.find_elements("css selector", "#tickets > thead th")]
    assert headers == ["Ticket", "Closed", "Store", "Card", "Total", "Earned", "Redeemed"]
    user = site["conn"].execute("SELECT language FROM users WHERE name = 'claire'").fetchone()[0]
    assert user == "en"  # kept with the user: another browser, another desk shows English too
    choose(browser, "fr")
    wait_text(browser, "h2", "Coordonnées")
