"""Bearer tokens of the POSes allowed to drive this till (`loyalty till pos-token`): only their hash is kept.

A token is 32 random bytes (URL-safe text); the journal keeps its SHA-256 (a token is too long to guess, so a
slow hash adds nothing) and the POS's name. The token itself is written once, to a new file only its owner reads.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import sqlite3
from datetime import datetime, timezone
from pathlib import Path

from sync.safe_files import create_private

from .problems import PosApiError

POS_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$")

SCHEMA = """
CREATE TABLE IF NOT EXISTS pos_tokens (
    pos TEXT PRIMARY KEY,
    token_sha256 TEXT NOT NULL UNIQUE,
    made_at TEXT NOT NULL
);
"""


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def ensure_schema(conn: sqlite3.Connection) -> None:
    conn.executescript(SCHEMA)


def make_token(conn: sqlite3.Connection, pos: str, out: str | Path) -> str:
    """A new token for `pos` (replacing its old one), written to `out` (a new file, 0600); returns the path."""
    if not POS_NAME.match(pos):
        raise PosApiError(
            "invalid_request", f"POS name {pos!r}: 1 to 40 letters, digits, dots, dashes or underscores, e.g. POS-1"
        )
    token = secrets.token_urlsafe(32)
    try:
        fd = create_private(out)
    except FileExistsError:
        raise PosApiError(
            "invalid_request", f"{out} exists: give the path of a new file (a token file is never overwritten)"
        ) from None
    except OSError as exc:
        raise PosApiError("invalid_request", f"{out} cannot be written ({exc.strerror}): give another path") from None
    try:
        os.write(fd, (token + "\n").encode())
    finally:
        os.close(fd)
    ensure_schema(conn)
    with conn:
        conn.execute(
            "INSERT INTO pos_tokens (pos, token_sha256, made_at) VALUES (?, ?, ?) ON CONFLICT(pos) DO "
            "UPDATE SET token_sha256 = excluded.token_sha256, made_at = excluded.made_at",
            (pos, digest(token), datetime.now(timezone.utc).isoformat()),
        )
    return str(out)


def known_tokens(conn: sqlite3.Connection) -> dict[str, str]:
    """token digest -> POS name."""
    ensure_schema(conn)
    return {row[0]: row[1] for row in conn.execute("SELECT token_sha256, pos FROM pos_tokens")}


def pos_of(tokens: dict[str, str], token: str) -> str | None:
    """The POS a bearer token belongs to, None for an unknown one (compared in constant time)."""
    given = digest(token)
    found = None
    for known, pos in tokens.items():
        if hmac.compare_digest(known, given):
            found = pos
    return found
