import msgspec
import pytest

from sync.codec import MAX_PAYLOAD_BYTES, decode_ticket, encode_ticket
from sync.errors import CodecError
from sync.topics import terminal_of_up_topic, tickets

from ..programme.test_ticket import a_ticket


def test_round_trip():
    ticket = a_ticket()
    assert decode_ticket(encode_ticket(ticket), "S001-T01") == ticket


def reason_of(payload: bytes, topic_terminal="S001-T01") -> CodecError:
    with pytest.raises(CodecError) as exc:
        decode_ticket(payload, topic_terminal)
    return exc.value


def test_malformed_json():
    assert reason_of(b'{"schema": 1, "ticket": ').reason.startswith("malformed JSON: Input data was truncated")
    assert reason_of(b"not json").reason.startswith("malformed JSON: JSON is malformed")


def test_schema_violation_names_the_field_and_keeps_the_ids():
    raw = msgspec.json.decode(encode_ticket(a_ticket()))
    raw["ticket"]["lines"][0]["quantity"] = "two"
    error = reason_of(msgspec.json.encode(raw))
    assert error.reason == "schema violation: Expected `int`, got `str` - at `$.ticket.lines[0].quantity`"
    assert (error.terminal, error.seq) == ("S001-T01", 1)


def test_unknown_schema_version():
    raw = msgspec.json.decode(encode_ticket(a_ticket()))
    raw["schema"] = 2
    assert reason_of(msgspec.json.encode(raw)).reason == "schema violation: Invalid enum value 2 - at `$.schema`"


def test_terminal_mismatch():
    error = reason_of(encode_ticket(a_ticket()), "S001-T02")
    assert error.reason == "terminal mismatch: topic is for S001-T02 but the ticket says S001-T01"


def test_oversized_payload():
    error = reason_of(b" " * (2 * 1024 * 1024))
    assert error.reason == f"payload of 2097152 bytes exceeds the limit of {MAX_PAYLOAD_BYTES} bytes"


def test_topics():
    assert tickets("S042-T07") == "loyalty/v1/up/S042-T07/tickets"
    assert terminal_of_up_topic("loyalty/v1/up/S042-T07/tickets") == "S042-T07"
    assert terminal_of_up_topic("loyalty/v1/up/nope/tickets") is None
