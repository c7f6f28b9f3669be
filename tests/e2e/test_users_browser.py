"""The admin's users page and a user's own password page in a real headless Chromium: what a person sees
when an admin resets a password (shown once), and when the user then chooses their own."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from server.desk import accounts
from server.storage.desk_db import open_db
from server.web import create_app

from ..fixtures.browser import by_id, serve, wait_text

pytestmark = pytest.mark.timeout(90)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("users")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1))
        db_path = str(tmp / "server.db")
        app = create_app({"DB": db_path}, instance_path=str(tmp / "instance"))
        conn = open_db(db_path)
        passwords = {
            name: accounts.create_user(conn, name, role)
            for name, role in (("root", "admin"), ("claire", "card_manager"))
        }
        with serve(app) as url:
            yield {"url": url, "conn": conn, "passwords": passwords}
        conn.close()


def log_in(browser, url: str, name: str, password: str) -> None:
    browser.get(url + "/login")
    by_id(browser, "name").send_keys(name)
    by_id(browser, "password").send_keys(password)
    by_id(browser, "login").click()


def log_out(browser) -> None:
    browser.find_element("css selector", "nav form button").click()
    wait_text(browser, ".flash", "Logged out.")


def test_an_admin_resets_a_password_and_the_user_then_chooses_their_own(site, browser):
    log_in(browser, site["url"], "root", site["passwords"]["root"])
    wait_text(browser, "#who", "root admin")
    browser.get(site["url"] + "/users")
    by_id(browser, "reset-password-claire").click()
    wait_text(browser, "#reset", "New password for claire (shown once):")
    new_password = browser.find_element("css selector", "#new-password code").text
    by_id(browser, "unlock-claire").click()
    wait_text(browser, "#done", "Log-in of claire unlocked (0 address(es)).")
    assert "shown once" not in browser.page_source  # the reset password is not shown again
    log_out(browser)

    log_in(browser, site["url"], "claire", new_password)
    wait_text(browser, "#who", "claire card_manager")
    by_id(browser, "nav-password").click()
    wait_text(browser, "h1", "Change your password")
    by_id(browser, "current").send_keys(new_password)
    by_id(browser, "new").send_keys("correct horse battery")
    by_id(browser, "again").send_keys("correct horse battery")
    by_id(browser, "change").click()
    wait_text(browser, ".flash", "Password changed; your other sessions were logged out.")
    wait_text(browser, "#who", "claire card_manager")  # this session goes on
    log_out(browser)
    log_in(browser, site["url"], "claire", "correct horse battery")
    wait_text(browser, "#who", "claire card_manager")
