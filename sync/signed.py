"""Head office's signature on what it pushes to every till (rules, hot-list, offers): a signed envelope.

Anyone who can publish on the broker could otherwise put retained rules or a hot-list in front of every
till and the server. The envelope is `{"schema": 1, "kind", "issued_at", "key_id", "payload", "signature"}`:
`payload` is the message's own JSON, kept byte for byte, and the Ed25519 signature covers the exact bytes
of kind, issued_at, key id and payload, so a hot-list cannot pass for offers, nor an edited payload for the
signed one. `issued_at` lets a reader refuse an older signed message replayed over a newer one.

The private key is made once by `loyalty server keys` (0600, outside the repository); its public key
(`KEY.pub`) goes to each till with `loyalty till provision --head-office-key`.
"""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import msgspec
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .errors import SyncError

SCHEMA_VERSION = 1
KINDS = ("rules", "hotlist", "offers", "catalogue")
SIGNING_KEY_ENV = "LOYALTY_SIGNING_KEY"  # path of head office's private key (publishers)
PUBLIC_KEY_ENV = "LOYALTY_HEAD_OFFICE_KEY"  # path of head office's public key file (readers)
DEFAULT_SIGNING_KEY = Path("~/.config/loyalty/head-office.key")
_DOMAIN = b"loyalty-signed-message/1\x00"


class SignatureError(SyncError):
    """A pushed message is unsigned, badly signed, signed by an unknown key, or older than the one held."""


class Envelope(msgspec.Struct, forbid_unknown_fields=True):
    schema: int
    kind: str
    issued_at: str
    key_id: str
    payload: msgspec.Raw
    signature: str


_decoder = msgspec.json.Decoder(Envelope)


def key_id(public: Ed25519PublicKey) -> str:
    """The first 8 bytes of the SHA-256 of the raw public key, in hex: names the key in the envelope."""
    return hashlib.sha256(public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)).hexdigest()[
        :16
    ]


def public_key_text(public: Ed25519PublicKey) -> str:
    return base64.b64encode(public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)).decode()


def _signed_bytes(kind: str, issued_at: str, kid: str, payload: bytes) -> bytes:
    return b"\x00".join([_DOMAIN + kind.encode(), issued_at.encode(), kid.encode(), payload])


def signing_key_path(path: str | Path | None = None) -> Path:
    """The private key's path: `path`, else $LOYALTY_SIGNING_KEY, else ~/.config/loyalty/head-office.key."""
    return Path(path or os.environ.get(SIGNING_KEY_ENV) or DEFAULT_SIGNING_KEY).expanduser()


def make_key(path: str | Path | None = None) -> tuple[Path, Path, str]:
    """Make head office's signing key (0600, never overwriting one) and KEY.pub beside it; returns
    (key path, public key path, public key text)."""
    path = signing_key_path(path)
    if path.exists():
        raise SignatureError(
            f"{path} exists already: head office has its key (public key in {path}.pub); "
            "a new key would make every till refuse what head office pushes"
        )
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = Ed25519PrivateKey.generate()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
    public = public_key_text(key.public_key())
    pub_path = Path(f"{path}.pub")
    pub_path.write_text(public + "\n")
    return path, pub_path, public


@dataclass(frozen=True)
class Signer:
    """Head office's private key: signs what it pushes."""

    key: Ed25519PrivateKey

    @classmethod
    def load(cls, path: str | Path | None = None) -> Signer:
        path = signing_key_path(path)
        try:
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        except FileNotFoundError:
            raise SignatureError(
                f"no head-office signing key at {path}: make one with `loyalty server keys` "
                f"(or point {SIGNING_KEY_ENV} at it)"
            ) from None
        except ValueError as exc:
            raise SignatureError(f"{path} is not a PEM private key ({exc})") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise SignatureError(f"{path} is not an Ed25519 key: make one with `loyalty server keys`")
        return cls(key)

    @property
    def key_id(self) -> str:
        return key_id(self.key.public_key())

    def trust(self) -> Trust:
        """The readers' side of this key (the server verifies with the key it signs with)."""
        public = self.key.public_key()
        return Trust({key_id(public): public})

    def sign(self, kind: str, payload: bytes, issued_at: datetime | None = None) -> bytes:
        """The envelope of `payload` (JSON bytes), signed now or at `issued_at`."""
        if kind not in KINDS:
            raise ValueError(f"unknown signed message kind {kind!r}")
        msgspec.json.decode(payload)  # the payload is embedded as JSON: it must be JSON
        when = (issued_at or datetime.now(timezone.utc)).astimezone(timezone.utc).isoformat(timespec="microseconds")
        kid = self.key_id
        signature = base64.b64encode(self.key.sign(_signed_bytes(kind, when, kid, payload))).decode()
        return msgspec.json.encode(Envelope(SCHEMA_VERSION, kind, when, kid, msgspec.Raw(payload), signature))


@dataclass(frozen=True)
class Opened:
    """A verified message: its payload bytes and when head office issued it."""

    kind: str
    payload: bytes
    issued_at: datetime
    key_id: str


@dataclass(frozen=True)
class Trust:
    """The head-office public keys a reader accepts (several while a key is being replaced)."""

    keys: dict[str, Ed25519PublicKey] = field(default_factory=dict)
    source: str = ""

    @classmethod
    def load(cls, path: str | Path) -> Trust:
        """Public keys from a file, one base64 Ed25519 key a line (KEY.pub as `loyalty server keys` made it)."""
        path = Path(path)
        try:
            lines = path.read_text().split()
        except FileNotFoundError:
            return cls({}, str(path))
        keys = {}
        for text in lines:
            try:
                public = Ed25519PublicKey.from_public_bytes(base64.b64decode(text, validate=True))
            except ValueError:
                raise SignatureError(f"{path}: {text!r} is not a base64 Ed25519 public key") from None
            keys[key_id(public)] = public
        return cls(keys, str(path))

    @classmethod
    def default(cls) -> Trust:
        """$LOYALTY_HEAD_OFFICE_KEY, else the .pub beside the signing key (head office's own hosts)."""
        env = os.environ.get(PUBLIC_KEY_ENV)
        return cls.load(Path(env).expanduser() if env else Path(f"{signing_key_path()}.pub"))

    def open(self, kind: str, data: bytes) -> Opened:
        """The verified payload of a `kind` envelope; SignatureError says why it is refused."""
        if not self.keys:
            raise SignatureError(
                f"{kind} message refused: no head-office public key to check it with "
                f"({self.source or 'none configured'}); provision with "
                "`loyalty till provision --head-office-key`"
            )
        try:
            envelope = _decoder.decode(data)
        except msgspec.DecodeError:
            raise SignatureError(f"{kind} message refused: not signed by head office (not a signed envelope)") from None
        if envelope.schema != SCHEMA_VERSION:
            raise SignatureError(
                f"{kind} message refused: signed envelope schema {envelope.schema} is not known "
                f"({SCHEMA_VERSION} expected)"
            )
        if envelope.kind != kind:
            raise SignatureError(f"{kind} message refused: the envelope is signed as a {envelope.kind} message")
        public = self.keys.get(envelope.key_id)
        if public is None:
            raise SignatureError(f"{kind} message refused: signed by unknown key {envelope.key_id}")
        payload = bytes(envelope.payload)
        try:
            public.verify(
                base64.b64decode(envelope.signature, validate=True),
                _signed_bytes(kind, envelope.issued_at, envelope.key_id, payload),
            )
            issued_at = datetime.fromisoformat(envelope.issued_at)
        except (InvalidSignature, ValueError):
            raise SignatureError(f"{kind} message refused: the signature does not match its content") from None
        if issued_at.tzinfo is None:
            raise SignatureError(f"{kind} message refused: issued_at {envelope.issued_at} has no time zone")
        return Opened(kind, payload, issued_at, envelope.key_id)


def refuse_older(kind: str, opened: Opened, held: datetime | None) -> None:
    """Raise SignatureError when `opened` was issued before the message of that kind already held."""
    if held is not None and opened.issued_at < held:
        raise SignatureError(
            f"{kind} message refused: issued at {opened.issued_at.isoformat()}, older than the "
            f"one held (issued at {held.isoformat()}): a replayed message"
        )
