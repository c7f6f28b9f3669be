"""Answers kept by Idempotency-Key, in the till's journal file (own table): a resent call gets the first answer.

A key belongs to one POS; it is stored with a fingerprint of the call (method, path, body as validated) and the
answer given. The same key with another call is refused (`idempotency_key_reused`). Only answered calls are
kept: a refused call writes nothing, so resending it is refused again the same way. Keys are forgotten after
KEEP (a POS resends within seconds, not days).
"""

from __future__ import annotations

import hashlib
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import msgspec

from programme.i18n import _

from .problems import PosApiError

KEEP = timedelta(days=1)

SCHEMA = """
CREATE TABLE IF NOT EXISTS pos_idempotency (
    pos TEXT NOT NULL,
    key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    status INTEGER NOT NULL,
    answer TEXT NOT NULL,
    at TEXT NOT NULL,
    PRIMARY KEY (pos, key)
);
CREATE INDEX IF NOT EXISTS pos_idempotency_at ON pos_idempotency (at);
"""


@dataclass(frozen=True)
class Answer:
    """What a call answers, before it is sent."""

    status: int
    body: dict


@dataclass(frozen=True)
class Reply:
    """An answer as sent (JSON bytes), and as sent again to a resent call."""

    status: int
    raw: bytes

    @classmethod
    def of(cls, answer: Answer) -> Reply:
        return cls(answer.status, msgspec.json.encode(answer.body))


def fingerprint(method: str, path: str, body: str) -> str:
    return hashlib.sha256(f"{method} {path}\n{body}".encode()).hexdigest()


def ensure_schema(conn: sqlite3.Connection) -> None:
    conn.executescript(SCHEMA)


def recall(conn: sqlite3.Connection, pos: str, key: str, print_: str) -> Reply | None:
    """The answer first given to this key, None for a new key; refused when the key came with another call."""
    row = conn.execute(
        "SELECT fingerprint, status, answer FROM pos_idempotency WHERE pos = ? AND key = ?", (pos, key)
    ).fetchone()
    if row is None:
        return None
    if row[0] != print_:
        raise PosApiError(
            "idempotency_key_reused",
            _(
                "the Idempotency-Key {key} was already used for another call: send a new key for each new call, "
                "and the same key only to resend the same call"
            ).format(key=key),
        )
    return Reply(row[1], row[2].encode())


def remember(conn: sqlite3.Connection, pos: str, key: str, print_: str, reply: Reply) -> None:
    now = datetime.now(timezone.utc)
    with conn:
        conn.execute("DELETE FROM pos_idempotency WHERE at < ?", ((now - KEEP).isoformat(),))
        conn.execute(
            "INSERT INTO pos_idempotency (pos, key, fingerprint, status, answer, at) VALUES (?, ?, ?, ?, ?, ?)",
            (pos, key, print_, reply.status, reply.raw.decode(), now.isoformat()),
        )
