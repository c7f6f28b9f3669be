"""A till's status report: its outbox backlog and sequences, published retained on `up/{terminal}/status`.

Head office keeps the last one per till (server.ingest.till_status) and shows the backlog as reported in
sync health; a report it cannot read goes to the dead letters with the reason.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

from .errors import CodecError

MAX_STATUS_BYTES = 4096
Count = Annotated[int, msgspec.Meta(ge=0)]


class TillStatus(msgspec.Struct, forbid_unknown_fields=True):
    """`backlog`: outbox messages the server has not acked; `oldest_unacked_at`: when the oldest was written."""

    schema: Literal[1]
    terminal: str
    sent_at: datetime
    backlog: Count
    oldest_unacked_at: datetime | None
    last_seq: Count
    last_acked_seq: Count
    rules_version: str | None
    software: str


_decoder = msgspec.json.Decoder(TillStatus)


def decode_status(payload: bytes, topic_terminal: str | None = None) -> TillStatus:
    """Decode a status report, or raise CodecError with a reason a person can act on."""
    if len(payload) > MAX_STATUS_BYTES:
        raise CodecError(
            f"status of {len(payload)} bytes exceeds the limit of {MAX_STATUS_BYTES} bytes", topic_terminal
        )
    try:
        status = _decoder.decode(payload)
    except msgspec.DecodeError as exc:
        text = str(exc)
        kind = (
            "malformed JSON"
            if text.startswith(("JSON is malformed", "Input data was truncated"))
            else "schema violation"
        )
        raise CodecError(f"bad status: {kind}: {text}", topic_terminal) from None
    if topic_terminal is not None and status.terminal != topic_terminal:
        raise CodecError(
            f"bad status: terminal mismatch: topic is for {topic_terminal} but the status says {status.terminal}",
            topic_terminal,
        )
    if status.sent_at.tzinfo is None:
        raise CodecError("bad status: sent_at has no UTC offset: times are UTC with offset", topic_terminal)
    if status.last_acked_seq > status.last_seq:
        raise CodecError(
            f"bad status: last_acked_seq {status.last_acked_seq} is after last_seq {status.last_seq}", topic_terminal
        )
    return status
