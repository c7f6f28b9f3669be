"""Wire messages: versioned JSON envelopes for tickets, acks and commands, decoded with limits."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Final, Literal

import msgspec

from programme.errors import ProgrammeError
from programme.ticket import MAX_SEQ, MAX_TEXT, Ticket, validate_ticket

from .errors import CodecError

SCHEMA_VERSION: Final = 1  # Final: its type is Literal[1], what the messages' `schema` field accepts
MAX_PAYLOAD_BYTES = 256 * 1024
MAX_BATCH_BYTES = 1024 * 1024  # a batch of ticket messages, whole
BATCH_PREFIX = b'{"schema":1,"batch":['  # what encode_batch writes, and how the server tells a batch


class TicketMessage(msgspec.Struct, forbid_unknown_fields=True):
    schema: Literal[1]
    ticket: Ticket


class TicketBatch(msgspec.Struct, forbid_unknown_fields=True):
    """Several ticket messages in one MQTT message, sent by a till with a backlog.

    Each element is a ticket message's exact bytes: each keeps its own digest (the ack names it),
    its own validation and, when wrong, its own dead letter.
    """

    schema: Literal[1]
    batch: list[msgspec.Raw]


class Ack(msgspec.Struct, forbid_unknown_fields=True):
    """Cumulative: the server has committed every ticket of `terminal` up to and including `acked_to`.

    `digest` is the SHA-256 of the message it holds as `acked_to`: a till forgets its messages only
    when its own message `acked_to` has that digest, so a stale ack (queued for a till's earlier life,
    or from a server restored from backup) never deletes a ticket the server does not have.
    """

    schema: Literal[1]
    terminal: str
    acked_to: int
    digest: str
    at: datetime
    # "events": a till's journal event (voids, reprints...) committed at head office, `acked_to` its number in its
    # chain and `digest` its message's; UNSET (left out) on ticket acks, which read as before.
    flow: Literal["events"] | msgspec.UnsetType = msgspec.UNSET


class Command(msgspec.Struct, forbid_unknown_fields=True):
    """Server to one till. `resend`: send again every message from `from_seq`."""

    schema: Literal[1]
    command: Literal["resend"]
    from_seq: int


class CardBalance(msgspec.Struct, forbid_unknown_fields=True):
    card: str
    points: int
    seq: int  # the highest sequence of the receiving till whose tickets this balance includes


class Balances(msgspec.Struct, forbid_unknown_fields=True):
    """Server to one till, after a commit: the balances of the cards in the tickets it just stored."""

    schema: Literal[1]
    terminal: str
    as_of: datetime
    balances: list[CardBalance]


_encoder = msgspec.json.Encoder()
_ticket_decoder = msgspec.json.Decoder(TicketMessage)
_ack_decoder = msgspec.json.Decoder(Ack)
_batch_decoder = msgspec.json.Decoder(TicketBatch)
_command_decoder = msgspec.json.Decoder(Command)
_balances_decoder = msgspec.json.Decoder(Balances)


def payload_digest(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()


def encode(message: msgspec.Struct) -> bytes:
    return _encoder.encode(message)


def encode_ticket(ticket: Ticket) -> bytes:
    return _encoder.encode(TicketMessage(schema=SCHEMA_VERSION, ticket=ticket))


def encode_batch(payloads: list[bytes]) -> bytes:
    """Ticket messages (as encode_ticket made them) in one message: `{"schema":1,"batch":[m1,m2...]}`."""
    return BATCH_PREFIX + b",".join(payloads) + b"]}"


def is_batch(payload: bytes) -> bool:
    return payload.startswith(BATCH_PREFIX)


def split_batch(payload: bytes) -> list[bytes]:
    """The ticket messages of a batch, byte for byte, or CodecError when the batch itself is unreadable."""
    if len(payload) > MAX_BATCH_BYTES:
        raise CodecError(f"batch of {len(payload)} bytes exceeds the limit of {MAX_BATCH_BYTES} bytes")
    try:
        return [bytes(raw) for raw in _batch_decoder.decode(payload).batch]
    except msgspec.DecodeError as exc:
        raise CodecError(f"malformed batch: {exc}") from None


def _salvage_ids(payload: bytes) -> tuple[str | None, int | None]:
    """Best effort terminal and sequence of a message that failed validation, to account for it."""
    try:
        raw = msgspec.json.decode(payload)
        inner = raw["ticket"]
        terminal, seq = inner["terminal"], inner["seq"]
        if isinstance(terminal, str) and len(terminal) <= MAX_TEXT and type(seq) is int and 0 < seq <= MAX_SEQ:
            return terminal, seq
    except Exception:  # noqa: BLE001 - anything unreadable simply has no ids
        pass
    return None, None


def decode_ticket(payload: bytes, topic_terminal: str | None = None) -> Ticket:
    """Decode and validate a ticket message, or raise CodecError with a reason a person can act on."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise CodecError(f"payload of {len(payload)} bytes exceeds the limit of {MAX_PAYLOAD_BYTES} bytes")
    try:
        message = _ticket_decoder.decode(payload)
    except msgspec.DecodeError as exc:
        text = str(exc)
        if text.startswith(("JSON is malformed", "Input data was truncated")):
            reason = f"malformed JSON: {text}"
        else:
            reason = f"schema violation: {text}"
        raise CodecError(reason, *_salvage_ids(payload)) from None
    ticket = message.ticket
    if topic_terminal is not None and ticket.terminal != topic_terminal:
        raise CodecError(f"terminal mismatch: topic is for {topic_terminal} but the ticket says {ticket.terminal}")
    try:
        validate_ticket(ticket)
    except ProgrammeError as exc:
        raise CodecError(f"invalid ticket: {exc}", ticket.terminal, ticket.seq) from None
    return ticket


def read_stored_ticket(payload: bytes) -> Ticket:
    """A ticket the server stored, from its message's bytes: it passed decode_ticket's checks on arrival."""
    return _ticket_decoder.decode(payload).ticket


def decode_ack(payload: bytes | bytearray) -> Ack:
    try:
        return _ack_decoder.decode(payload)
    except msgspec.DecodeError as exc:
        raise CodecError(f"bad ack: {exc}") from None


def decode_balances(payload: bytes) -> Balances:
    try:
        return _balances_decoder.decode(payload)
    except msgspec.DecodeError as exc:
        raise CodecError(f"bad balances message: {exc}") from None


def decode_command(payload: bytes | bytearray) -> Command:
    try:
        return _command_decoder.decode(payload)
    except msgspec.DecodeError as exc:
        raise CodecError(f"bad command: {exc}") from None
