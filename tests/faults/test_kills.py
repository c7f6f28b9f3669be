"""kill -9 of till, server and broker at random points; then every ticket is stored exactly once
and every card's balance at the server equals the sum of its tickets' points."""

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from server.ingest.store import Store

from ..fixtures.chain import ServerProcess, count_tickets
from ..fixtures.mqtt import mosquitto  # noqa: F401 - require check happens there

ITERATIONS = 100
TILLS = ("S001-T01", "S001-T02")


class TillProcess:
    def __init__(self, db, terminal, broker_url, seed):
        self.db, self.terminal, self.broker_url, self.seed = db, terminal, broker_url, seed
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.faults.till_worker",
                "--db",
                str(self.db),
                "--terminal",
                self.terminal,
                "--broker",
                self.broker_url,
                "--seed",
                str(self.seed),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            start_new_session=True,
        )
        return self

    def wait_sales(self, count):
        """Block until the till has closed `count` more tickets (it prints one line a ticket)."""
        for _ in range(count):
            if not self.proc.stdout.readline():
                raise AssertionError(f"till {self.terminal} died")

    def kill(self):
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        self.proc.stdout.close()


def journal_tickets(db):
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT id, total_cents, points_earned FROM tickets ORDER BY seq").fetchall()
    finally:
        conn.close()


@pytest.mark.timeout(400)
def test_random_kills_lose_nothing_and_double_nothing(tmp_path, mosquitto):  # noqa: F811
    rng = random.Random(20261123)
    broker = mosquitto
    server = ServerProcess(tmp_path / "server.db", broker.url).start()
    tills = [TillProcess(tmp_path / f"{t}.db", t, broker.url, seed=n).start() for n, t in enumerate(TILLS)]
    kills = {"till": 0, "server": 0, "broker": 0}
    started = time.monotonic()
    try:
        for _ in range(ITERATIONS):
            victim = rng.choice(["till", "till", "server", "broker"])
            for till in tills:
                till.wait_sales(rng.randint(1, 4))
            if victim == "till":
                till = rng.choice(tills)
                till.kill()
                till.start()
            elif victim == "server":
                server.kill()
                server.start()
            else:
                broker.kill()
                broker.start()
            kills[victim] += 1
        for till in tills:
            till.wait_sales(5)
            till.kill()
        # Last round: one process per till that only syncs what its journal holds.
        finishers = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "loyalty",
                    "till",
                    "sync",
                    "--terminal",
                    t.terminal,
                    "--db",
                    str(t.db),
                    "--broker",
                    broker.url,
                    "--wait",
                    "120",
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for t in tills
        ]
        for finisher in finishers:
            out, err = finisher.communicate(timeout=150)
            assert finisher.returncode == 0, err
    finally:
        for till in tills:
            if till.proc.poll() is None:
                till.kill()
        server.stop()
    sold = {t.terminal: journal_tickets(t.db) for t in tills}
    total_sold = sum(len(v) for v in sold.values())
    assert count_tickets(tmp_path / "server.db") == total_sold
    store = Store(tmp_path / "server.db")
    stored = dict((row[0], row[1:]) for row in store.conn.execute("SELECT id, total_cents, points_earned FROM tickets"))
    for terminal, rows in sold.items():
        for ticket_id, total, points in rows:
            assert stored[ticket_id] == (total, points), f"{ticket_id} differs"
        assert store.stats()["terminals"][terminal]["contiguous_seq"] == len(rows)
    # Every card's balance is the sum of its tickets' points as head office credits them (the till's figure, or
    # the rules' where they differ, e.g. a tier the simulated till never heard of): nothing doubled, nothing lost.
    mismatched = store.conn.execute(
        "SELECT l.card, l.balance, t.points + coalesce(d.delta, 0) FROM "
        "(SELECT card, sum(points) AS balance FROM ledger GROUP BY card) l "
        "JOIN (SELECT card, sum(points_earned) - sum(points_redeemed) AS points FROM tickets "
        "WHERE card IS NOT NULL GROUP BY card) t ON t.card = l.card "
        "LEFT JOIN (SELECT card, sum(server_points - till_points) AS delta FROM discrepancies "
        "WHERE server_points IS NOT NULL GROUP BY card) d ON d.card = l.card "
        "WHERE l.balance != t.points + coalesce(d.delta, 0)"
    ).fetchall()
    assert mismatched == []
    assert sum(kills.values()) == ITERATIONS and min(kills.values()) > 0
    report = {
        "kills": kills,
        "tickets": total_sold,
        "lost": 0,
        "doubled": 0,
        "seconds": round(time.monotonic() - started),
    }
    (tmp_path / "report.txt").write_text(repr(report))
    print(report)
