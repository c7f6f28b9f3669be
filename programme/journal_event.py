"""What a till journals besides its tickets (NF525): line voids, cancelled tickets, reprints, training
tickets and archivings, each signed by the till and chained like tickets.

Two chains per till: `events` (voids, cancellations, reprints, archivings) and `training` (the tickets
of "mode école", which never enter the tickets' chain nor the grand totals). Each event names the hash
of the previous event of its chain, and is signed with the till's Ed25519 key over its canonical JSON
without the signature, exactly as a ticket is (programme/signing.py).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from typing import Annotated, Literal

import msgspec
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .errors import ProgrammeError
from .signing import SignatureError
from .ticket import GENESIS_HASH, MAX_LINES, Cents, Line, Seq, Text, UtcTime

Chain = Literal["events", "training"]
EventKind = Literal["line_void", "ticket_cancel", "reprint", "training_ticket", "archive"]
CHAINS: tuple[Chain, ...] = ("events", "training")
KIND_CHAIN: dict[str, Chain] = {
    "line_void": "events",
    "ticket_cancel": "events",
    "reprint": "events",
    "archive": "events",
    "training_ticket": "training",
}
MAX_COPY = 10_000  # reprints of one ticket


class EventError(ProgrammeError):
    """A journal event is not valid, or a chain of events does not hold."""


class JournalEvent(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One journaled event. `after_seq`: the till's last ticket when it happened (places it among tickets);
    `ticket_id`: the ticket a reprint copies; `copy`: a reprint's copy number (1 for the first duplicate);
    `lines`/`total_cents`: the voided line, the cancelled basket, the training ticket; `detail`: an
    archiving's period, file and SHA-256."""

    terminal: Text
    chain: Chain
    seq: Seq
    kind: EventKind
    at: UtcTime
    store: Text
    cashier: Text
    after_seq: Seq = 0
    ticket_id: Text | None = None
    copy: Annotated[int, msgspec.Meta(ge=0, le=MAX_COPY)] = 0
    lines: Annotated[list[Line], msgspec.Meta(max_length=MAX_LINES)] = []
    total_cents: Cents = 0
    detail: Text = ""
    prev_hash: Text = GENESIS_HASH
    signature: Text | None = None

    @property
    def name(self) -> str:
        return f"event {self.seq} of the {self.chain} chain of {self.terminal}"


_encoder = msgspec.json.Encoder(order="deterministic")
_decoder = msgspec.json.Decoder(JournalEvent)


def canonical_bytes(event: JournalEvent) -> bytes:
    """What is signed and hashed: the event without its signature."""
    return _encoder.encode(msgspec.structs.replace(event, signature=None))


def event_hash(event: JournalEvent) -> str:
    return hashlib.sha256(canonical_bytes(event)).hexdigest()


def encode_event(event: JournalEvent) -> bytes:
    return _encoder.encode(event)


def decode_event(payload: bytes | str) -> JournalEvent:
    try:
        event = _decoder.decode(payload)
    except msgspec.ValidationError as exc:
        raise EventError(f"not a journal event: {exc}") from None
    except msgspec.DecodeError as exc:
        raise EventError(f"not a journal event (unreadable JSON): {exc}") from None
    if KIND_CHAIN[event.kind] != event.chain:
        raise EventError(f"{event.name}: a {event.kind} event belongs to the {KIND_CHAIN[event.kind]} chain")
    return event


def sign_event(event: JournalEvent, key: Ed25519PrivateKey) -> JournalEvent:
    return msgspec.structs.replace(event, signature=base64.b64encode(key.sign(canonical_bytes(event))).decode())


def verify_event(event: JournalEvent, public_key: Ed25519PublicKey) -> None:
    """Raise SignatureError unless the event carries a valid signature of that key."""
    if not event.signature:
        raise SignatureError(f"{event.name} is not signed")
    try:
        public_key.verify(base64.b64decode(event.signature), canonical_bytes(event))
    except (InvalidSignature, ValueError):
        raise SignatureError(
            f"{event.name} ({event.kind}): the signature does not match its content "
            "(altered after the till signed it, or signed by another key)"
        ) from None


def check_link(event: JournalEvent, previous: JournalEvent | None) -> None:
    """Raise EventError unless `event` follows `previous` (same till and chain, next number, its hash)."""
    expected_seq = previous.seq + 1 if previous else 1
    if event.seq != expected_seq:
        raise EventError(f"{event.name}: event {expected_seq} of its chain is missing before it")
    expected = event_hash(previous) if previous else GENESIS_HASH
    if event.prev_hash != expected:
        raise EventError(
            f"{event.name}: the chain is broken (it names {event.prev_hash[:12]}..., "
            f"the previous event hashes to {expected[:12]}...)"
        )


def verify_chain(events: Sequence[JournalEvent], public_key: Ed25519PublicKey | None) -> list[str]:
    """Every problem in a till's events, both chains: signatures (when a key is given) and links."""
    problems: list[str] = []
    for chain in CHAINS:
        previous = None
        for event in sorted((e for e in events if e.chain == chain), key=lambda e: e.seq):
            if public_key is not None:
                try:
                    verify_event(event, public_key)
                except SignatureError as exc:
                    problems.append(str(exc))
            try:
                check_link(event, previous)
            except EventError as exc:
                problems.append(str(exc))
            previous = event
    return problems


class EventTotals(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A closure's count of events: line voids, cancelled tickets, reprints (each with its cents) and the
    training tickets, kept apart from the sales totals."""

    line_voids: int = 0
    line_voids_cents: int = 0
    cancelled: int = 0
    cancelled_cents: int = 0
    reprints: int = 0
    training: int = 0
    training_cents: int = 0
    archivings: int = 0

    def plus(self, other: EventTotals) -> EventTotals:
        return EventTotals(**{f: getattr(self, f) + getattr(other, f) for f in EventTotals.__struct_fields__})


def event_totals(events: Sequence[JournalEvent]) -> EventTotals:
    counts = dict.fromkeys(EventTotals.__struct_fields__, 0)
    for event in events:
        if event.kind == "line_void":
            counts["line_voids"] += 1
            counts["line_voids_cents"] += event.total_cents
        elif event.kind == "ticket_cancel":
            counts["cancelled"] += 1
            counts["cancelled_cents"] += event.total_cents
        elif event.kind == "reprint":
            counts["reprints"] += 1
        elif event.kind == "training_ticket":
            counts["training"] += 1
            counts["training_cents"] += event.total_cents
        elif event.kind == "archive":
            counts["archivings"] += 1
    return EventTotals(**counts)
