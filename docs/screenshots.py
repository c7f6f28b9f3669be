"""Refresh the screenshots the user docs show, in French and in English.

    .venv/bin/python docs/screenshots.py                 # both languages, every picture
    .venv/bin/python docs/screenshots.py --lang fr --only till

Writes docs/screenshots/fr/ and docs/screenshots/en/: the till's screen (till.svg) through Textual's pilot and
`save_screenshot`, and the desk and head-office pages (PNG) through headless Chromium (Debian's chromium and
chromium-driver, as the browser tests use) asking for the language with Accept-Language. Everything runs on
throw-away files in a temporary folder: a till journal selling the shipped demo catalogue, and a head-office
database filled with the tests' fixtures (tests/fixtures/desk.py).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

OUT = ROOT / "docs" / "screenshots"
LANGUAGES = ("fr", "en")
ACCEPT = {"fr": "fr-FR,fr", "en": "en-GB,en"}
TILL_SIZE = (150, 42)
CARD = "2900000000018"
# From the shipped demo catalogue (programme/demo_catalogue.csv): 5,5 %, 20 %, 2,1 % and 10 % articles.
NUTELLA, CREMANT, PAPER, TULIPS = "3017620422003", "3230321001548", "3216411002282", "3370929002360"


def _till_basket() -> list[str]:
    return [NUTELLA, f"2*{CREMANT}", PAPER, TULIPS]


async def _till(path: Path, folder: Path) -> None:
    from terminal.app import TillApp

    app = TillApp(str(folder / "till.db"), "S001-T01", cashier="alice")
    async with app.run_test(size=TILL_SIZE) as pilot:

        async def type_in(text: str) -> None:
            app.screen.query_one("#entry").value = text
            await pilot.press("enter")

        async def identify() -> None:
            await pilot.press("f2")
            await type_in(CARD)
            await app.workers.wait_for_complete()
            await pilot.pause()

        for article in _till_basket():
            await type_in(article)
        await identify()
        await pilot.press("f10")
        await type_in("cash 50")
        await pilot.press("f5")  # the customer asks for the receipt (AGEC)
        await type_in(f"3*{NUTELLA}")
        await identify()
        app.save_screenshot(path.name, str(path.parent))


STORE_TOML = """name = "Supermarché du Centre"
address = ["12 rue de la Paix", "75002 Paris"]
siret = "732 829 320 00074"
vat_number = "FR44732829320"
"""


def till(lang: str) -> None:
    """The cashier's screen after a sale with a card, a second basket started; the store's legal mentions on the
    receipt come from a store.toml (docs/till.md, receipts)."""
    with tempfile.TemporaryDirectory() as folder:
        settings = Path(folder) / "store.toml"
        settings.write_text(STORE_TOML)
        before = os.environ.get("LOYALTY_STORE_SETTINGS")
        os.environ["LOYALTY_STORE_SETTINGS"] = str(settings)
        try:
            asyncio.run(_till(OUT / lang / "till.svg", Path(folder)))
        finally:
            if before is None:
                del os.environ["LOYALTY_STORE_SETTINGS"]
            else:
                os.environ["LOYALTY_STORE_SETTINGS"] = before


def _browser(lang: str, profile: Path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    from tests.fixtures.browser import CHROMEDRIVER, _chromium

    if _chromium() is None or not os.path.exists(CHROMEDRIVER):
        sys.exit("chromium and chromium-driver are needed: run `make setup` (apt-get install chromium chromium-driver)")
    os.environ["SE_OFFLINE"] = "true"  # no Selenium Manager going to the network
    opts = webdriver.ChromeOptions()
    opts.binary_location = _chromium()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,1000", f"--lang={lang}"):
        opts.add_argument(arg)
    opts.add_argument(f"--user-data-dir={profile}")
    opts.add_experimental_option("prefs", {"intl.accept_languages": ACCEPT[lang]})
    return webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=opts)


def _head_office(folder: Path) -> dict:
    """A head-office database: a customer with three tickets at mixed VAT rates, an adjustment, an anonymous card."""
    from argon2 import PasswordHasher

    from programme.ticket import make_line
    from server.desk import accounts, cards, corrections, customers, gdpr
    from server.storage.desk_db import open_db
    from tests.fixtures.desk import CARD_B, CARD_C, CARD_D, CARD_E, ENROL, sell_anonymously

    accounts._hasher = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)  # throw-away accounts
    db = str(folder / "server.db")
    conn = open_db(db)
    password = accounts.create_user(conn, "claire", "admin")
    lines = [
        make_line(NUTELLA, 2, 399, "grocery", "Pâte à tartiner Nutella 400 g", vat_rate=550),
        make_line(CREMANT, 1, 899, "alcohol", "Crémant d'Alsace 75 cl", vat_rate=2000),
        make_line(PAPER, 1, 280, "press", "Quotidien national", vat_rate=210),
    ]
    sold = sell_anonymously(db, CARD, 3, lines=lines, points_each=19)
    sell_anonymously(db, CARD_C, 2, terminal="S002-T03", lines=lines[:1])
    customer = customers.enrol(conn, ENROL, "claire")
    cards.issue(conn, customer, CARD, "claire")
    corrections.adjust(conn, customer, CARD, 20, "geste commercial / goodwill", "claire")
    sell_anonymously(db, CARD_B, 2, first_seq=4, lines=lines)
    replaced = customers.enrol(conn, {**ENROL, "name": "Pierre Curie", "email": "pierre@example.org"}, "claire")
    cards.issue(conn, replaced, CARD_B, "claire")
    cards.replace(conn, CARD_B, CARD_D, "lost", "claire")
    sell_anonymously(db, CARD_E, 1, first_seq=6, lines=lines)
    erased = customers.enrol(conn, {**ENROL, "name": "Irène Joliot", "email": "irene@example.org"}, "claire")
    cards.issue(conn, erased, CARD_E, "claire")
    gdpr.erase(conn, erased, "claire")
    conn.close()
    return {
        "db": db,
        "password": password,
        "customer": customer,
        "replaced": replaced,
        "erased": erased,
        "ticket": sold[0].id,
    }


def web(lang: str) -> None:
    """The desk's and head office's pages, logged in, in `lang`."""
    from tests.fixtures.browser import by_id, click_through, serve, wait_text

    from server.web import create_app

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        seed = _head_office(folder)
        app = create_app({"DB": seed["db"]}, instance_path=str(folder / "instance"))
        driver = _browser(lang, folder / "profile")
        try:
            with serve(app) as url:
                driver.get(url + "/login")
                wait_text(driver, "h1", {"fr": "Se connecter", "en": "Log in"}[lang])
                _shot(driver, lang, "login")
                by_id(driver, "name").send_keys("claire")
                by_id(driver, "password").send_keys(seed["password"])
                click_through(driver, "login")
                customer, today = seed["customer"], date.today()
                pages = {
                    "search": "/customers?q=Curie",
                    "enrol": "/customers/new",
                    "customer": f"/customers/{customer}",
                    "statement": f"/customers/{customer}/statement?start={today - timedelta(days=7)}&end={today}",
                    "anonymous-cards": "/cards/anonymous",
                    "replaced": f"/customers/{seed['replaced']}",
                    "erased": f"/customers/{seed['erased']}",
                    "office-ticket": f"/office/tickets/{seed['ticket']}",
                }
                for name, page in pages.items():
                    driver.get(url + page)
                    _shot(driver, lang, name)
        finally:
            driver.quit()


def _shot(driver, lang: str, name: str) -> None:
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1280, min(max(height, 600), 2400))
    driver.save_screenshot(str(OUT / lang / f"{name}.png"))
    driver.set_window_size(1280, 1000)


def main(argv: list[str] | None = None) -> None:
    import logging

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    logging.getLogger("loyalty.held").setLevel(logging.ERROR)  # the seeded tickets name rules head office lacks
    parser = argparse.ArgumentParser(description="Refresh docs/screenshots/fr and docs/screenshots/en.")
    parser.add_argument("--lang", choices=LANGUAGES, action="append", help="fr or en (default: both)")
    parser.add_argument("--only", choices=("till", "web"), help="only the till's screen or only the web pages")
    args = parser.parse_args(argv)
    from tests.fixtures.languages import compile_catalogs

    compile_catalogs()
    for lang in args.lang or LANGUAGES:
        (OUT / lang).mkdir(parents=True, exist_ok=True)
        os.environ["LOYALTY_LANG"] = lang  # the till's language (the web pages follow Accept-Language)
        if args.only in (None, "till"):
            till(lang)
        if args.only in (None, "web"):
            web(lang)
        print(f"docs/screenshots/{lang}/ refreshed")
    shutil.rmtree(ROOT / "docs" / "__pycache__", ignore_errors=True)


if __name__ == "__main__":
    main()
