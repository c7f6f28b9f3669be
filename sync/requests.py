"""Requests from a till to head office and their replies: a card's balance, a ticket sold at another till,
a reservation of points before they are spent (and its release when the sale is cancelled), a loyalty
cheque before it is taken, a customer's card by phone number.

A till publishes `{schema, id, kind, ...}` on `up/{terminal}/requests`; the server answers on
`down/{terminal}/replies` with the same id. The till waits a short while and, without an answer,
goes on with what it knows (the balance marked offline; the return refused with the reason).
"""

from __future__ import annotations

import socket
from datetime import datetime
from typing import Annotated, Literal

import msgspec

from .errors import CodecError

MAX_REQUEST_BYTES = 4096
MAX_REPLY_BYTES = 512 * 1024  # a ticket message (at most 256 KB) and the envelope
MAX_POINTS = 1_000_000_000  # a reservation asks for at most this many points (range-checked before the database)
MAX_SEQ = 2**62
RequestId = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]


class BalanceRequest(msgspec.Struct, tag="balance", tag_field="kind", forbid_unknown_fields=True):
    schema: Literal[1]
    id: RequestId
    card: Annotated[str, msgspec.Meta(max_length=32)]
    codes: bool = False  # the till reads a reply's code (see Reply.code); older tills do not send it


class TicketRequest(msgspec.Struct, tag="ticket", tag_field="kind", forbid_unknown_fields=True):
    schema: Literal[1]
    id: RequestId
    ticket_id: Annotated[str, msgspec.Meta(max_length=64)]
    codes: bool = False  # the till reads a reply's code (see Reply.code); older tills do not send it


class ReserveRequest(msgspec.Struct, tag="reserve", tag_field="kind", forbid_unknown_fields=True):
    """Hold `points` of the card for this till before a points tender or a loyalty cheque (F9).

    `after_seq`: the till's highest ticket sequence when it asks; the ticket that uses the points comes after it,
    so an older ticket synced late never consumes the reservation."""

    schema: Literal[1]
    id: RequestId
    card: Annotated[str, msgspec.Meta(max_length=32)]
    points: Annotated[int, msgspec.Meta(ge=1, le=MAX_POINTS)]
    after_seq: Annotated[int, msgspec.Meta(ge=0, le=MAX_SEQ)]
    codes: bool = False  # the till reads a reply's code (see Reply.code); older tills do not send it


class ReleaseRequest(msgspec.Struct, tag="release", tag_field="kind", forbid_unknown_fields=True):
    """The sale that held the reservation was cancelled: its points are free again."""

    schema: Literal[1]
    id: RequestId
    reservation: RequestId
    codes: bool = False  # the till reads a reply's code (see Reply.code); older tills do not send it


class ChequeRequest(msgspec.Struct, tag="cheque", tag_field="kind", forbid_unknown_fields=True):
    """May this loyalty cheque pay on a ticket of `card`? Granted, head office holds it for this till a while."""

    schema: Literal[1]
    id: RequestId
    serial: Annotated[str, msgspec.Meta(max_length=32)]
    card: Annotated[str, msgspec.Meta(max_length=32)]
    codes: bool = False  # the till reads a reply's code (see Reply.code); older tills do not send it


class PhoneRequest(msgspec.Struct, tag="phone", tag_field="kind", forbid_unknown_fields=True):
    """The card of the customer with this phone number (only a customer who consented to be found so)."""

    schema: Literal[1]
    id: RequestId
    phone: Annotated[str, msgspec.Meta(max_length=32)]
    codes: bool = False  # the till reads a reply's code (see Reply.code); older tills do not send it


Request = BalanceRequest | TicketRequest | ReserveRequest | ReleaseRequest | ChequeRequest | PhoneRequest


class CardInfo(msgspec.Struct, forbid_unknown_fields=True):
    """What head office knows of a card; `seq` as in the balances push: the asking till's highest sequence held."""

    card: str
    points: int
    seq: int
    as_of: datetime
    registered: bool
    first_name: str | None = None
    tier: str | None = None
    status: str | None = None  # the desk's card status (active, blocked, lost...) when registered


class Reservation(msgspec.Struct, forbid_unknown_fields=True):
    """Points head office holds for one till until its ticket arrives, the till releases them, or `expires_at`."""

    id: str
    points: int
    expires_at: datetime


class ChequeInfo(msgspec.Struct, forbid_unknown_fields=True):
    """A loyalty cheque head office holds: its value, its card, until when it may be spent."""

    serial: str
    cents: int
    card: str
    expires_at: datetime


class CustomerMatch(msgspec.Struct, forbid_unknown_fields=True):
    """The card found by phone and the customer's name masked (`J*** D***`) for the cashier to confirm."""

    card: str
    masked_name: str


class Reply(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """`found` false: head office does not know the card or the ticket, refuses the reservation, or refuses to
    answer (too many requests); `message` says so in words a cashier can read."""

    schema: Literal[1]
    id: str
    kind: Literal["balance", "ticket", "reserve", "release", "cheque", "phone"]
    found: bool
    message: str | None = None
    # With `message`, to a till whose request says `codes`: what the message says as a code and its parameters,
    # which the till shows in its cashier's language (terminal/answers.py); `message` stays, in English.
    code: Annotated[str, msgspec.Meta(max_length=64)] | None = None
    params: dict[str, str | int] = msgspec.field(default_factory=dict)
    balance: CardInfo | None = None
    ticket: msgspec.Raw = msgspec.Raw(b"null")  # the ticket message exactly as stored: {"schema", "ticket"}
    # With a ticket: its line (0-based) -> quantity already returned at head office, all tills together.
    returned: dict[int, int] = msgspec.field(default_factory=dict)
    reservation: Reservation | None = None  # reserve, granted
    available: int | None = None  # reserve, refused: the card's points at head office less other reservations
    cheque: ChequeInfo | None = None  # cheque, granted
    customer: CustomerMatch | None = None  # phone, found


def request_kind(request: Request) -> str:
    """The `kind` a request was sent with (its tag), which its reply repeats."""
    tag = type(request).__struct_config__.tag
    if not isinstance(tag, str):  # every Request subclass is declared with tag="<kind>"
        raise TypeError(f"{type(request).__name__} is not tagged with its kind")
    return tag


def send_at_once(client) -> None:
    """TCP_NODELAY on a connected client's socket: a request or reply is one small packet that must not
    wait for the previous one's TCP ack (Nagle with the peer's delayed ack costs about 40 ms a leg)."""
    sock = client.socket()
    if sock is not None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


_request_decoder = msgspec.json.Decoder(Request)
_reply_decoder = msgspec.json.Decoder(Reply)


def decode_request(payload: bytes) -> Request:
    if len(payload) > MAX_REQUEST_BYTES:
        raise CodecError(f"bad request: {len(payload)} bytes exceeds the limit of {MAX_REQUEST_BYTES} bytes")
    try:
        return _request_decoder.decode(payload)
    except msgspec.DecodeError as exc:
        raise CodecError(f"bad request: {exc}") from None


def decode_reply(payload: bytes) -> Reply:
    if len(payload) > MAX_REPLY_BYTES:
        raise CodecError(f"bad reply: {len(payload)} bytes exceeds the limit of {MAX_REPLY_BYTES} bytes")
    try:
        return _reply_decoder.decode(payload)
    except msgspec.DecodeError as exc:
        raise CodecError(f"bad reply: {exc}") from None
