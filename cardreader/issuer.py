"""The card issuer's Ed25519 key pair: the welcome desk signs card data, every till verifies it.

The private key stays at the desk (issuer.key, mode 0600); tills hold only issuer.pub. Nothing is in
the repository: `loyalty card issuer-key new` makes a pair, and the virtual card makes a local
development pair under $XDG_CONFIG_HOME/loyalty/ on first use when it is given none.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .apdu import CardData
from .errors import IssuerKeyError

PRIVATE_NAME = "issuer.key"
PUBLIC_NAME = "issuer.pub"
PUBLIC_KEY_ENV = "LOYALTY_ISSUER_PUBLIC_KEY"


def default_dir() -> Path:
    """Where a till's configuration keeps the issuer public key when no option or variable names one."""
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / "loyalty"


def new_key_pair(out_dir: str | Path, overwrite: bool = False) -> tuple[Path, Path]:
    """Write issuer.key (PKCS#8 PEM, 0600) and issuer.pub (SubjectPublicKeyInfo PEM) in out_dir."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    private_path, public_path = out / PRIVATE_NAME, out / PUBLIC_NAME
    if private_path.exists() and not overwrite:
        raise IssuerKeyError(
            f"{private_path} already exists: keep it (cards signed with it depend on it) or choose another folder"
        )
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    _write_atomically(private_path, pem, 0o600)
    _write_atomically(
        public_path,
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo),
        0o644,
    )
    return private_path, public_path


def _write_atomically(path: Path, content: bytes, mode: int) -> None:
    """Readers never see half a key: write a temporary file, then rename it into place."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(content)
    os.replace(tmp, path)


def load_private_key(path: str | Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    except (OSError, ValueError) as exc:
        raise IssuerKeyError(
            f"cannot read the issuer key {path}: {exc}; make one with `loyalty card issuer-key new --out DIR`"
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise IssuerKeyError(f"{path} is not an Ed25519 private key")
    return key


def load_public_key(path: str | Path | None = None) -> Ed25519PublicKey:
    """The till's issuer public key: the path given, else $LOYALTY_ISSUER_PUBLIC_KEY, else the default."""
    chosen = Path(path or os.environ.get(PUBLIC_KEY_ENV) or default_dir() / PUBLIC_NAME)
    try:
        key = serialization.load_pem_public_key(chosen.read_bytes())
    except (OSError, ValueError) as exc:
        raise IssuerKeyError(
            f"cannot read the issuer public key {chosen}: {exc}; give it with --issuer-public-key or {PUBLIC_KEY_ENV}"
        ) from None
    if not isinstance(key, Ed25519PublicKey):
        raise IssuerKeyError(f"{chosen} is not an Ed25519 public key")
    return key


def development_key() -> Ed25519PrivateKey:
    """The local key a virtual card signs with when given none (made on first use, never committed)."""
    folder = default_dir()
    if not (folder / PRIVATE_NAME).exists():
        new_key_pair(folder)
    return load_private_key(folder / PRIVATE_NAME)


def sign(data: CardData, key: Ed25519PrivateKey) -> CardData:
    return CardData(data.number, data.issued, data.generation, key.sign(data.signed_bytes()))


def verify(data: CardData, key: Ed25519PublicKey) -> bool:
    try:
        key.verify(data.signature, data.signed_bytes())
    except InvalidSignature:
        return False
    return True
