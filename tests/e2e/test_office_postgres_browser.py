"""An analyst reads the value page in a real headless Chromium from `loyalty server --db postgresql://...
--web-port`: the known data set's totals, computed from PostgreSQL (tests/fixtures/headoffice.py)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import pytest
from argon2 import PasswordHasher

from server.desk import accounts
from server.storage.desk_db import open_db

from ..fixtures.browser import by_id, wait_text
from ..fixtures.headoffice import build_known_set, register_customers

pytestmark = pytest.mark.timeout(90)
LISTENING = re.compile(r"desk web app on (http://127\.0\.0\.1:\d+)/")
START_S = 30


@pytest.fixture
def server_on_postgres(postgres_url, mosquitto, monkeypatch, tmp_path):
    """The known set and a head-office user in PostgreSQL, then the server with its web app, as run in production."""
    monkeypatch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1))
    build_known_set(postgres_url)
    conn = open_db(postgres_url)
    register_customers(conn)
    password = accounts.create_user(conn, "hugo", "head_office")
    conn.close()
    log = tmp_path / "server.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "loyalty",
                "server",
                "--db",
                postgres_url,
                "--broker",
                mosquitto.url,
                "--web-port",
                "0",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "LOYALTY_SECRET_KEY": "test-only-secret"},
        )
    try:
        deadline = time.monotonic() + START_S
        found = None
        while found is None and time.monotonic() < deadline and proc.poll() is None:
            found = LISTENING.search(log.read_text())
            if found is None:
                time.sleep(0.1)  # polling another process's output, with a deadline
        assert found, f"the server did not start its web app: {log.read_text()[-2000:]}"
        yield found.group(1), password
    finally:
        proc.terminate()
        proc.wait(10)


def test_an_analyst_sees_the_value_page_computed_from_postgresql(server_on_postgres, browser):
    url, password = server_on_postgres
    browser.get(url + "/office/value?start=2026-01-01&end=2026-01-31")
    by_id(browser, "name").send_keys("hugo")
    by_id(browser, "password").send_keys(password)
    by_id(browser, "login").click()
    wait_text(browser, "h1", "Customer value")
    if "/office/value" not in browser.current_url:
        browser.get(url + "/office/value?start=2026-01-01&end=2026-01-31")
        wait_text(browser, "h1", "Customer value")
    assert by_id(browser, "customers").text == "10"  # A..J; the anonymous ticket is no customer
    assert by_id(browser, "top20").text == "80.0% of sales"
    assert by_id(browser, "liability").text.startswith("€20.50")  # 2,050 points at 1 cent
    assert len(browser.find_elements("css selector", "svg.pygal-chart")) == 2
    assert "up to date." in by_id(browser, "freshness").text
