"""Tickets signed by their till (Ed25519 over the ticket without its signature), in NF525's spirit.

Each ticket also names the hash of the previous ticket of its till, so a removed, inserted or
altered ticket breaks the chain and a changed amount breaks the signature.
"""

from __future__ import annotations

import base64

import msgspec
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .errors import ProgrammeError
from .ticket import Ticket, canonical_bytes


class SignatureError(ProgrammeError):
    """A ticket's signature or key is missing or wrong."""


def new_private_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def private_key_pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def load_private_key(pem: bytes) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise SignatureError("the till key is not an Ed25519 key: make one with `loyalty till provision`")
    return key


def public_key_text(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    """The raw 32-byte public key in base64: what the server registers for a till."""
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return base64.b64encode(public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)).decode()


def load_public_key(text: str) -> Ed25519PublicKey:
    try:
        raw = base64.b64decode(text, validate=True)
        return Ed25519PublicKey.from_public_bytes(raw)
    except ValueError:
        raise SignatureError(f"{text!r} is not a base64 Ed25519 public key (32 bytes)") from None


def sign_ticket(ticket: Ticket, key: Ed25519PrivateKey) -> Ticket:
    signature = base64.b64encode(key.sign(canonical_bytes(ticket))).decode()
    return msgspec.structs.replace(ticket, signature=signature)


def verify_ticket(ticket: Ticket, public_key: Ed25519PublicKey) -> None:
    """Raise SignatureError unless the ticket carries a valid signature of that key."""
    if not ticket.signature:
        raise SignatureError(f"ticket {ticket.id} is not signed")
    try:
        public_key.verify(base64.b64decode(ticket.signature), canonical_bytes(ticket))
    except (InvalidSignature, ValueError):
        raise SignatureError(
            f"ticket {ticket.id}: the signature does not match its content "
            "(altered after the till closed it, or signed by another key)"
        ) from None
