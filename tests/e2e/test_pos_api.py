"""A POS written without our code (tests/e2e/pos_sale.sh: curl and jq) drives `loyalty till serve` online: the
sale with a card and points redeemed reaches head office over a real Mosquitto exactly once, though the script
sends every call twice."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from ..fixtures.chain import count_tickets, wait_until
from ..fixtures.components import require
from ..terminal.test_requests import HeadOffice
from .test_double_spend import seed, server_points

SCRIPT = Path(__file__).with_name("pos_sale.sh")
CARD = "2900000000018"
TERMINAL = "S001-T01"


def loyalty(*args: str, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "loyalty", *args], capture_output=True, text=True, timeout=60, env=env)


class Served:
    """`loyalty till serve` as a process: the URL it says it listens on, stopped with SIGTERM."""

    def __init__(self, db: Path, broker: str, env: dict):
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "loyalty",
                "till",
                "serve",
                "--terminal",
                TERMINAL,
                "--db",
                str(db),
                "--listen",
                "127.0.0.1:0",
                "--broker",
                broker,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            start_new_session=True,
        )
        line = self.proc.stdout.readline()
        assert line, f"loyalty till serve did not start: {self.proc.stderr.read()}"
        self.url = json.loads(line)["listening"]

    def stop(self) -> str:
        self.proc.terminate()
        try:
            _, err = self.proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
        return err


@pytest.mark.timeout(120)
def test_a_curl_pos_sells_with_a_card_and_points_and_the_ticket_reaches_head_office_once(tmp_path, mosquitto):
    require(
        shutil.which("curl") is not None and shutil.which("jq") is not None, "curl and jq", "apt-get install curl jq"
    )
    env = {**os.environ, "LOYALTY_LANG": "en", "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    office = HeadOffice(tmp_path / "server.db", mosquitto.url)
    served = None
    try:
        seed(office.db, 5000)
        db, token = tmp_path / "till.db", tmp_path / "pos-1.token"
        made = loyalty(
            "till", "pos-token", "--terminal", TERMINAL, "--db", str(db), "--pos", "POS-1", "--out", str(token), env=env
        )
        assert made.returncode == 0, made.stderr
        assert token.stat().st_mode & 0o777 == 0o600
        served = Served(db, mosquitto.url, env)
        sale = subprocess.run(
            ["sh", str(SCRIPT), served.url, str(token), CARD, "POS1-000042", "300"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert sale.returncode == 0, sale.stderr
        closed = json.loads(sale.stdout)
        again = subprocess.run(
            ["sh", str(SCRIPT), served.url, str(token), CARD, "POS1-000042", "300"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert (again.returncode, again.stdout) == (0, sale.stdout), again.stderr  # the whole sale resent
        assert (closed["ticket"], closed["pos_ticket"], closed["points_redeemed"]) == (
            "S001-T01-00000001",
            "POS1-000042",
            300,
        )
        assert any("ticket S001-T01-00000001" in r for r in closed["receipt"]) and closed["control_slip"]
        server_db = tmp_path / "server.db"
        wait_until(lambda: count_tickets(server_db) >= 1, 30, "the ticket at head office")
        conn = sqlite3.connect(server_db)
        try:
            assert conn.execute("SELECT id FROM tickets").fetchall() == [("S001-T01-00000001",)]
        finally:
            conn.close()
        assert server_points(office.db) == 5000 - 300 + closed["points_earned"]
    finally:
        err = served.stop() if served else ""
        office.stop()
    assert "Traceback" not in err, err
    till = sqlite3.connect(tmp_path / "till.db")
    try:
        assert till.execute("SELECT count(*) FROM tickets").fetchone()[0] == 1
        assert till.execute("SELECT event FROM pos_events ORDER BY id").fetchall() == [
            ("opened",),
            ("identified",),
            ("redeemed points",),
            ("committed",),
        ]
    finally:
        till.close()
