"""The till's signing key: made once at provisioning, kept beside the journal (mode 600)."""
from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from programme.signing import load_private_key, new_private_key, private_key_pem, public_key_text

from .errors import TillError


def provision(terminal: str, key_dir: str | Path) -> tuple[Path, str]:
    """Make `key_dir/TERMINAL.key` (never overwriting one) and return its path and public key text."""
    path = Path(key_dir) / f"{terminal}.key"
    if path.exists():
        raise TillError(f"{path} exists already: this till is provisioned; its public key is "
                        f"{public_key_text(load_key(path))}")
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
