"""A period's archive: an open JSON Lines file of its closures and tickets, with a detached Ed25519
signature (a small JSON file beside it) over the file's SHA-256.

Line 1 is the header {"archive": {...}}; then one {"closure": {...}} per line (the closure before
the period first, when there is one, so the chain and grand totals can be checked); then one
{"ticket": {...}} per line, in sequence order. Any JSON reader can open it.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import msgspec
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .closure import Closure, ClosureError, verify_chain
from .errors import ProgrammeError
from .signing import SignatureError, load_public_key, public_key_text, verify_ticket
from .ticket import Ticket, UtcTime, ticket_hash

FORMAT = "loyalty-archive/1"
# Read no larger file: ~88,000 tickets of ~3 KB (17 lines), a month of a till selling 2,800 tickets a day.
MAX_ARCHIVE_BYTES = 256 << 20
MAX_SIGNATURE_BYTES = 64 << 10  # a signature file is about 400 bytes


class ArchiveError(ProgrammeError):
    """An archive is unreadable, altered, or its content does not hold."""


class Header(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    format: str
    terminal: str
    period: str
    created_at: UtcTime
    closures: int
    tickets: int


class SignatureFile(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The detached signature: the archive's SHA-256 (hex) signed by the till's key."""

    file: str
    terminal: str
    sha256: str
    public_key: str
    signature: str


class Archive(msgspec.Struct, frozen=True):
    header: Header
    closures: list[Closure]
    tickets: list[Ticket]


class _Line(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    archive: Header | None = None
    closure: Closure | None = None
    ticket: Ticket | None = None


_encoder = msgspec.json.Encoder(order="deterministic")
_line_decoder = msgspec.json.Decoder(_Line)
_sig_decoder = msgspec.json.Decoder(SignatureFile)


def build(
    terminal: str, period: str, closures: Sequence[Closure], tickets: Sequence[Ticket], created_at: datetime
) -> bytes:
    header = Header(
        format=FORMAT,
        terminal=terminal,
        period=period,
        created_at=created_at,
        closures=len(closures),
        tickets=len(tickets),
    )
    lines = [_encoder.encode({"archive": header})]
    lines += [_encoder.encode({"closure": c}) for c in closures]
    lines += [_encoder.encode({"ticket": t}) for t in sorted(tickets, key=lambda t: t.seq)]
    return b"\n".join(lines) + b"\n"


def sign(data: bytes, name: str, terminal: str, key: Ed25519PrivateKey) -> bytes:
    digest = hashlib.sha256(data).digest()
    return (
        _encoder.encode(
            SignatureFile(
                file=name,
                terminal=terminal,
                sha256=digest.hex(),
                public_key=public_key_text(key),
                signature=base64.b64encode(key.sign(digest)).decode(),
            )
        )
        + b"\n"
    )


def check_signature(
    data: bytes, signature_file: bytes, name: str, public_key: Ed25519PublicKey | None = None
) -> SignatureFile:
    """The file is the one signed, by `public_key` (else by the key the signature file names)."""
    try:
        sig = _sig_decoder.decode(signature_file)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise ArchiveError(f"{name}.sig is not an archive signature: {exc}") from None
    actual = hashlib.sha256(data).hexdigest()
    if actual != sig.sha256:
        raise ArchiveError(
            f"{name} was altered after it was signed: its SHA-256 is {actual}, the signature covers {sig.sha256}"
        )
    try:
        key = public_key or load_public_key(sig.public_key)
        key.verify(base64.b64decode(sig.signature), bytes.fromhex(sig.sha256))
    except (InvalidSignature, ValueError, SignatureError):
        raise ArchiveError(
            f"{name}: the signature is not the till's (made by another key, or altered); do not trust this archive"
        ) from None
    return sig


def parse(data: bytes, name: str) -> Archive:
    header, closures, tickets = None, [], []
    for number, raw in enumerate(data.splitlines(), start=1):
        try:
            line = _line_decoder.decode(raw)
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            raise ArchiveError(f"{name} line {number} is not an archive line: {exc}") from None
        if line.archive is not None:
            if number != 1:
                raise ArchiveError(f"{name} line {number}: the header may only be line 1")
            header = line.archive
        elif line.closure is not None:
            closures.append(line.closure)
        elif line.ticket is not None:
            tickets.append(line.ticket)
    if header is None or header.format != FORMAT:
        raise ArchiveError(f"{name} has no {FORMAT} header on line 1: is it an archive?")
    if (header.closures, header.tickets) != (len(closures), len(tickets)):
        raise ArchiveError(
            f"{name} announces {header.closures} closures and {header.tickets} tickets, "
            f"holds {len(closures)} and {len(tickets)}"
        )
    return Archive(header=header, closures=closures, tickets=tickets)


def check_content(archive: Archive, public_key: Ed25519PublicKey) -> list[str]:
    """Problems inside a genuine file: ticket signatures and chain, closures against the tickets."""
    problems = []
    previous = None
    for ticket in archive.tickets:
        if ticket.terminal != archive.header.terminal:
            problems.append(f"ticket {ticket.id} is not of till {archive.header.terminal}")
        if ticket.signature:  # tickets sold before the till was provisioned are chained, not signed
            try:
                verify_ticket(ticket, public_key)
            except SignatureError as exc:
                problems.append(str(exc))
        if previous is not None and ticket.prev_hash != ticket_hash(previous):
            problems.append(f"ticket {ticket.id} does not follow {previous.id} in the chain")
        previous = ticket
    try:
        problems += verify_chain(archive.closures, archive.tickets, public_key, anchored=True)
    except ClosureError as exc:
        problems.append(str(exc))
    return problems


def verify(data: bytes, signature_file: bytes, name: str, public_key: Ed25519PublicKey | None = None) -> Archive:
    """Check an archive whole; raise ArchiveError with every problem found, else return it."""
    sig = check_signature(data, signature_file, name, public_key)
    archive = parse(data, name)
    if archive.header.terminal != sig.terminal:
        raise ArchiveError(f"{name} is of till {archive.header.terminal} but signed as {sig.terminal}")
    problems = check_content(archive, public_key or load_public_key(sig.public_key))
    if problems:
        raise ArchiveError(f"{name} is signed but does not hold: " + "; ".join(problems))
    return archive


def read(path: str | Path, public_key: Ed25519PublicKey | None = None) -> Archive:
    """Read and verify an archive file and the `.sig` beside it."""
    path = Path(path)
    sig = Path(f"{path}.sig")
    if not path.exists():
        raise ArchiveError(f"no archive at {path}")
    if not sig.exists():
        raise ArchiveError(f"no signature beside {path.name}: {sig.name} should be next to it")
    return verify(path.read_bytes(), sig.read_bytes(), path.name, public_key)
