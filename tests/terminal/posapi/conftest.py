"""A till serving the POS API in-process (Flask's test client over the real PosHost and SQLite journal)."""

from __future__ import annotations

import itertools
import sqlite3

import pytest

from terminal.posapi.app import create_app
from terminal.posapi.baskets import PosHost
from terminal.posapi.tokens import make_token

TERMINAL = "S001-T01"
CARD = "2900000000018"
OIL = {
    "gtin": "3000000000014",
    "quantity": 2,
    "unit_cents": 542,
    "category": "grocery",
    "vat_rate": 550,
    "label": "olive oil 1l",
}
RAZORS = {"gtin": "3000000000007", "quantity": 1, "unit_cents": 191, "category": "hygiene", "vat_rate": 2000}


class Pos:
    """A POS calling the till: each call gets a fresh Idempotency-Key unless the test gives one."""

    def __init__(self, tmp_path, clock=None):
        self.db = str(tmp_path / "till.db")
        self.now = 0.0
        self.host = PosHost(self.db, TERMINAL, cashier="alice", clock=lambda: self.now)
        self.token = tmp_path / "pos-1.token"
        if not self.token.exists():  # a till started again on the same journal keeps its POS's token
            make_token(self.host.conn, "POS-1", self.token)
        self.closed = False
        self.app = create_app(self.host)
        self.client = self.app.test_client()
        self.keys = (f"key-{n}" for n in itertools.count())

    def headers(self, key=None, token=None):
        headers = {"Authorization": f"Bearer {token or self.token.read_text().strip()}"}
        if key is not False:
            headers["Idempotency-Key"] = key or next(self.keys)
        return headers

    def post(self, path, body=None, key=None, **kw):
        return self.client.post(path, json=body, headers=self.headers(key, **kw))

    def delete(self, path, key=None):
        return self.client.delete(path, headers=self.headers(key))

    def get(self, path):
        return self.client.get(path, headers=self.headers(False))

    def open(self) -> str:
        answer = self.post("/baskets", {})
        assert answer.status_code == 201, answer.get_json()
        return answer.get_json()["basket"]

    def count(self, table: str) -> int:
        conn = sqlite3.connect(self.db)
        try:
            return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        finally:
            conn.close()

    def close(self):
        if not self.closed:
            self.closed = True
            self.host.close()


@pytest.fixture
def pos(tmp_path, monkeypatch):
    monkeypatch.setenv("LOYALTY_LANG", "en")
    till = Pos(tmp_path)
    yield till
    till.close()


def problem_of(answer) -> tuple[int, str, str]:
    """(status, code, detail) of a problem document, after checking it is one."""
    assert answer.headers["Content-Type"] == "application/problem+json", answer.get_data(as_text=True)
    doc = answer.get_json()
    assert doc["status"] == answer.status_code and doc["type"].endswith(doc["code"]) and doc["title"]
    return answer.status_code, doc["code"], doc["detail"]
