"""The exceptions page in a real headless Chromium: reached from the office nav, one table per kind, each row
linking to its tickets."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from programme.redemption import cheque_serial
from server.desk import accounts
from server.storage.desk_db import open_db
from server.web import create_app

from ..fixtures.browser import by_id, serve, wait_text
from ..server.test_exceptions import exceptional_tickets, ingest

pytestmark = pytest.mark.timeout(120)


def test_head_office_opens_the_tickets_of_each_exception(tmp_path, browser, monkeypatch):
    monkeypatch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1))
    db_path = str(tmp_path / "server.db")
    made = exceptional_tickets(tmp_path)
    ingest(db_path, [made["issued"], *made["spends"], *made["stores"], made["return"]])
    app = create_app({"DB": db_path}, instance_path=str(tmp_path / "instance"))
    conn = open_db(db_path)
    password = accounts.create_user(conn, "olga", "head_office")
    conn.close()
    with serve(app) as url:
        browser.get(url + "/office/tickets")
        by_id(browser, "name").send_keys("olga")
        by_id(browser, "password").send_keys(password)
        by_id(browser, "login").click()
        wait_text(browser, "h1", "Tickets")
        by_id(browser, "nav-exceptions").click()
        wait_text(browser, "h1", "Exceptions")
        a, b = made["spends"]
        serial = cheque_serial("S001-T01", made["issued"].seq, 0, 500)
        row = by_id(browser, "cheques-twice").find_element("css selector", "tbody tr")
        assert f"cheque {serial} (€5.00) spent 2 times" in row.text  # the page in English: money as English reads it
        assert [link.text for link in row.find_elements("css selector", "a")] == [a.id, b.id]
        for table in ("overdrafts", "several-stores", "returns-without-original"):
            assert by_id(browser, table).find_elements("css selector", "tbody tr a"), table
        first, second = made["stores"]
        by_id(browser, "several-stores").find_element("link text", second.id).click()
        wait_text(browser, "h1", second.id)
        browser.back()
        wait_text(browser, "h1", "Exceptions")
        by_id(browser, "days").clear()
        by_id(browser, "days").send_keys("999")
        by_id(browser, "show").click()
        wait_text(browser, "h1", "Refused")
