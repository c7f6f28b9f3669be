"""The till's signing key: made once at provisioning, kept beside the journal (mode 600); and head office's
public key, written beside it at provisioning, with which the till checks what head office pushes."""

from __future__ import annotations

import os
import sqlite3
from datetime import datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from programme.signing import load_private_key, new_private_key, private_key_pem, public_key_text
from sync.signed import Opened, Trust, refuse_older

from .errors import TillError


HEAD_OFFICE_KEY = "head-office.pub"  # beside the till's key: head office's public key(s)

_SIGNED_SCHEMA = """CREATE TABLE IF NOT EXISTS signed_messages (
    kind TEXT PRIMARY KEY, issued_at TEXT NOT NULL, key_id TEXT NOT NULL)"""


def provision(terminal: str, key_dir: str | Path, head_office_key: str | None = None) -> tuple[Path, str]:
    """Make `key_dir/TERMINAL.key` (never overwriting one) and return its path and public key text.
    `head_office_key` (base64 public key) is written to `key_dir/head-office.pub`."""
    if head_office_key is not None:
        _write_head_office_key(Path(key_dir), head_office_key)
    path = Path(key_dir) / f"{terminal}.key"
    if path.exists():
        raise TillError(
            f"{path} exists already: this till is provisioned; its public key is {public_key_text(load_key(path))}"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    key = new_private_key()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(private_key_pem(key))
    return path, public_key_text(key)


def load_key(path: str | Path) -> Ed25519PrivateKey:
    try:
        return load_private_key(Path(path).read_bytes())
    except FileNotFoundError:
        raise TillError(f"no till key at {path}: make one with `loyalty till provision`") from None


def _write_head_office_key(key_dir: Path, text: str) -> Path:
    from programme.signing import SignatureError as KeyTextError
    from programme.signing import load_public_key

    try:
        load_public_key(text.strip())
    except KeyTextError:
        raise TillError(
            f"--head-office-key: {text.strip()!r} is not a base64 Ed25519 public key: give the "
            "content of the .pub file `loyalty server keys` made"
        ) from None
    key_dir.mkdir(parents=True, exist_ok=True)
    path = key_dir / HEAD_OFFICE_KEY
    path.write_text(text.strip() + "\n")
    return path


def head_office_trust(till_key: str | Path | None) -> Trust:
    """Head office's public key: `head-office.pub` beside the till's key, else $LOYALTY_HEAD_OFFICE_KEY."""
    if till_key is not None:
        beside = Path(till_key).parent / HEAD_OFFICE_KEY
        if beside.exists():
            return Trust.load(beside)
    return Trust.default()


def open_fresh(conn: sqlite3.Connection, trust: Trust, kind: str, data: bytes) -> Opened:
    """The verified payload of a pushed `kind` message, refused (SignatureError) when older than the one
    held. Call `hold` once it is applied, in the same transaction."""
    opened = trust.open(kind, data)
    conn.execute(_SIGNED_SCHEMA)
    row = conn.execute("SELECT issued_at FROM signed_messages WHERE kind = ?", (kind,)).fetchone()
    refuse_older(kind, opened, datetime.fromisoformat(row[0]) if row else None)
    return opened


def hold(conn: sqlite3.Connection, opened: Opened) -> None:
    """Remember the issue time of the `kind` message applied (a replay of an older one is then refused)."""
    conn.execute(
        "INSERT INTO signed_messages VALUES (?, ?, ?) ON CONFLICT (kind) DO UPDATE SET "
        "issued_at = excluded.issued_at, key_id = excluded.key_id",
        (opened.kind, opened.issued_at.isoformat(), opened.key_id),
    )


def signed_messages(conn: sqlite3.Connection) -> dict[str, str]:
    """kind -> issue time of the last signed message applied (for status and tests)."""
    try:
        return dict(conn.execute("SELECT kind, issued_at FROM signed_messages").fetchall())
    except sqlite3.OperationalError:
        return {}
