"""A return ticket carries its links to the original; every other ticket encodes, hashes and signs as before."""

import msgspec
import pytest

from programme.errors import TicketError
from programme.signing import new_private_key, sign_ticket, verify_ticket
from programme.ticket import (
    GENESIS_HASH,
    Line,
    PointsEntry,
    ReturnLink,
    Tender,
    Ticket,
    canonical_bytes,
    make_line,
    ticket_hash,
    utc_now,
    validate_ticket,
)
from sync.codec import decode_ticket, encode_ticket


class TicketBefore(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """programme.ticket.Ticket as it was before return links: the fields, in their order."""

    id: str
    terminal: str
    seq: int
    store: str
    cashier: str
    opened_at: object
    closed_at: object
    lines: list[Line]
    tenders: list[Tender]
    total_cents: int
    card: str | None
    points: list[PointsEntry]
    rules_version: str
    prev_hash: str = GENESIS_HASH
    signature: str | None = None


def a_sale(**changes) -> Ticket:
    now = utc_now()
    lines = [make_line("3000000000014", 2, 542, "grocery", "olive oil 1l"), make_line("3000000000007", 1, 191)]
    ticket = Ticket(
        id="S001-T01-00000001",
        terminal="S001-T01",
        seq=1,
        store="S001",
        cashier="ann",
        opened_at=now,
        closed_at=now,
        lines=lines,
        tenders=[Tender("cash", 1275)],
        total_cents=1275,
        card="2900000000018",
        points=[PointsEntry("earn", "base", 10, 0), PointsEntry("earn", "base", 1, 1)],
        rules_version="base-1",
    )
    return msgspec.structs.replace(ticket, **changes)


def a_return(links=None, **changes) -> Ticket:
    now = utc_now()
    ticket = Ticket(
        id="S002-T01-00000001",
        terminal="S002-T01",
        seq=1,
        store="S002",
        cashier="bob",
        opened_at=now,
        closed_at=now,
        lines=[make_line("3000000000014", -2, 542)],
        tenders=[Tender("cash", -1084)],
        total_cents=-1084,
        card="2900000000018",
        points=[PointsEntry("reverse", "return of S001-T01-00000001 line 1", 10, 0)],
        rules_version="base-1",
        returns=[ReturnLink(line=0, original="S001-T01-00000001", original_line=0, quantity=2, points=10)]
        if links is None
        else links,
    )
    return msgspec.structs.replace(ticket, **changes)


def before(ticket: Ticket) -> TicketBefore:
    return TicketBefore(**{f: getattr(ticket, f) for f in TicketBefore.__struct_fields__})


def test_a_ticket_without_returns_has_the_bytes_hash_and_signature_it_had_before_the_field():
    sale = a_sale()
    encoder = msgspec.json.Encoder()
    assert canonical_bytes(sale) == encoder.encode(before(sale))
    assert b"returns" not in encode_ticket(sale)
    key = new_private_key()
    signed = sign_ticket(sale, key)
    old_signed = before(signed)
    assert canonical_bytes(signed) == encoder.encode(msgspec.structs.replace(old_signed, signature=None))
    # a ticket signed and hashed as before decodes to the same ticket, and its signature still holds
    decoded = decode_ticket(encoder.encode({"schema": 1, "ticket": old_signed}))
    assert decoded == signed and decoded.returns is msgspec.UNSET
    verify_ticket(decoded, key.public_key())
    assert ticket_hash(decoded) == ticket_hash(sale)


def test_a_return_carries_its_links_through_the_wire_and_they_are_signed():
    ticket = a_return()
    key = new_private_key()
    signed = sign_ticket(validate_ticket(ticket), key)
    decoded = decode_ticket(encode_ticket(signed))
    assert decoded.returns == [ReturnLink(0, "S001-T01-00000001", 0, 2, 10)]
    verify_ticket(decoded, key.public_key())
    altered = msgspec.structs.replace(decoded, returns=[ReturnLink(0, "S001-T01-00000009", 0, 2, 10)])
    assert ticket_hash(altered) != ticket_hash(decoded)


@pytest.mark.parametrize(
    "links, message",
    [
        (
            [ReturnLink(1, "S001-T01-00000001", 0, 2)],
            "ticket S002-T01-00000001: a return link names line 2, which does not exist",
        ),
        (
            [ReturnLink(0, "S001-T01-00000001", 0, 0)],
            "ticket S002-T01-00000001: return link of line 1: quantity must be 1 or more, got 0",
        ),
        (
            [ReturnLink(0, "S001-T01-00000001", 0, 1)],
            "ticket S002-T01-00000001: return link of line 1: returns 1 but the line's quantity is -2 "
            "(a return line is negative)",
        ),
        (
            [ReturnLink(0, "S001-T01-00000001", -1, 2)],
            "ticket S002-T01-00000001: return link of line 1: original line and points must not be negative",
        ),
        (
            [ReturnLink(0, "S001-T01-00000001", 0, 2), ReturnLink(0, "S001-T01-00000001", 1, 2)],
            "ticket S002-T01-00000001: return link of line 1: the line is linked twice",
        ),
        (
            [ReturnLink(0, "S002-T01-00000001", 0, 2)],
            "ticket S002-T01-00000001: return link of line 1: a ticket cannot return its own lines",
        ),
    ],
)
def test_wrong_links_are_refused(links, message):
    with pytest.raises(TicketError) as refused:
        validate_ticket(a_return(links))
    assert str(refused.value) == message
