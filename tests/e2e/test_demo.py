"""`loyalty demo` runs the whole chain on embedded defaults, as `make demo` does."""

import json
import sqlite3
import subprocess
import sys

from pathlib import Path

import pytest


@pytest.mark.timeout(120)
def test_demo_stores_every_ticket_sent(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "loyalty", "demo", "--tickets", "120", "--tills", "2", "--dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=110,
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["tickets_sent"] == summary["tickets_stored"] == 120
    assert summary["dead_letters"] == 0 and summary["points_earned"] > 0
    assert (tmp_path / "server.db").exists()
    # The demo's own head-office key, to sign what is pushed to its tills (LOYALTY_SIGNING_KEY).
    assert summary["head_office_key"] == str(tmp_path / "head-office.key")
    assert (tmp_path / "head-office.key").stat().st_mode & 0o777 == 0o600
    # Head office published the shipped catalogue; the tills kept it and sold from it, each line with its VAT rate.
    assert summary["catalogue"]["all"] == {"version": 1, "articles": 457}
    till = sqlite3.connect(tmp_path / "till-S001-T01.db")
    assert till.execute("SELECT scope, version FROM catalogue_versions ORDER BY scope").fetchall() == [
        ("S001", 1),
        ("all", 1),
    ]
    till.close()
    server = sqlite3.connect(tmp_path / "server.db")
    assert {r for (r,) in server.execute("SELECT DISTINCT vat_rate FROM lines")} == {2000, 1000, 550, 210}
    server.close()
    # The archive beside it, which the office pages read (server.analytics.dashboard)
    from server.analytics.archive_db import ask

    assert summary["archive"] == str(tmp_path / "server.archive")
    assert ask(summary["archive"], "SELECT count(*) FROM tickets").rows == [(120,)]
    from server.analytics import rollups

    assert rollups.status(Path(summary["archive"]))[1] == []  # every month's roll-ups written, none stale
    assert ask(summary["archive"], "SELECT CAST(sum(tickets) AS BIGINT) FROM store_day").rows == [(120,)]


@pytest.mark.timeout(60)
def test_demo_against_mosquitto(tmp_path, mosquitto):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "loyalty",
            "demo",
            "--tickets",
            "50",
            "--tills",
            "3",
            "--broker",
            mosquitto.url,
            "--dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=50,
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["tickets_stored"] == 50 and summary["broker"] == mosquitto.url
