"""Head office on PostgreSQL with its desk: `loyalty server --db postgresql://... --web-port` as a real process,
a card manager in a real headless Chromium enrols a customer and issues a card, and the rows are in PostgreSQL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request

import psycopg
import pytest
from click.testing import CliRunner

from loyalty.cli import main
from sync.mosquitto import free_port

from ..fixtures.browser import by_id, wait_text
from ..fixtures.desk import CARD_A, sell_anonymously

pytestmark = pytest.mark.timeout(120)


def wait_for_page(proc: subprocess.Popen, url: str, timeout: float = 30) -> str:
    """Poll the server process's page until it answers (there is nothing to block on across processes)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.read().decode()
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"{url} did not answer within {timeout} s (server exit code {proc.poll()})")


def test_a_card_manager_enrols_and_issues_a_card_on_a_postgresql_head_office(
    tmp_path, mosquitto, postgres_url, browser
):
    created = CliRunner().invoke(
        main, ["admin", "create-user", "claire", "--role", "card_manager", "--db", postgres_url]
    )
    assert created.exit_code == 0, created.output
    password = created.output.rsplit("first password: ", 1)[1].strip()
    sell_anonymously(postgres_url, CARD_A, 3)  # 36 points on a card nobody registered yet
    port = free_port()
    env = {**os.environ, "LOYALTY_INSTANCE_PATH": str(tmp_path / "instance")}
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
            str(port),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    site = f"http://127.0.0.1:{port}"
    try:
        assert "Se connecter" in wait_for_page(proc, site + "/login")  # French without a browser's hint
        browser.get(site + "/customers")
        by_id(browser, "name").send_keys("claire")
        by_id(browser, "password").send_keys(password)
        by_id(browser, "login").click()
        wait_text(browser, "#who", "claire card_manager")
        browser.get(site + "/customers/new")
        by_id(browser, "f-name").send_keys("Marie Curie")
        by_id(browser, "f-email").send_keys("marie@example.org")
        by_id(browser, "f-postcode").send_keys("75005")
        by_id(browser, "f-consent_email").click()
        by_id(browser, "save").click()
        wait_text(browser, "#customer-name", "Marie Curie")
        by_id(browser, "new-card").send_keys(CARD_A)
        by_id(browser, "issue").click()
        wait_text(browser, ".flash", f"Card {CARD_A} issued; 3 earlier ticket(s) attached to this customer.")
        assert by_id(browser, "balance").text == "36"
        assert len(browser.find_elements("css selector", "#tickets tr.ticket")) == 3
        browser.get(site + "/customers?q=curie")  # PostgreSQL's LIKE minds case: the search must not
        wait_text(browser, "table", "Marie Curie")
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert f"desk web app on {site}/" in err
    with psycopg.connect(postgres_url) as conn:
        customer = conn.execute("SELECT id, name, postcode, consent_email FROM customers").fetchall()
        card = conn.execute("SELECT number, customer_id, status FROM cards").fetchall()
        actions = [r[0] for r in conn.execute("SELECT action FROM audit WHERE actor = 'claire' ORDER BY id")]
    assert customer == [(1, "Marie Curie", "75005", 1)]
    assert card == [(CARD_A, 1, "active")]
    assert actions == ["enrol", "issue_card"]
