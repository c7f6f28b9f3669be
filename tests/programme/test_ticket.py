import msgspec
import pytest

from programme.errors import TicketError
from programme.points import earn_points
from programme.ticket import Tender, Ticket, make_line, ticket_hash, utc_now, validate_ticket


def a_ticket(**changes) -> Ticket:
    now = utc_now()
    lines = [make_line("3017620422003", 2, 199), make_line("3000000000017", 1, 1150, "tobacco")]
    ticket = Ticket(
        id="S001-T01-00000001",
        terminal="S001-T01",
        seq=1,
        store="S001",
        cashier="ann",
        opened_at=now,
        closed_at=now,
        lines=lines,
        tenders=[Tender("cash", 1548)],
        total_cents=1548,
        card="2900000000018",
        points=earn_points(lines, "2900000000018"),
        rules_version="base-1",
    )
    return msgspec.structs.replace(ticket, **changes)


def test_a_good_ticket_validates_and_hashes_stably():
    ticket = a_ticket()
    assert validate_ticket(ticket) is ticket
    assert ticket_hash(ticket) == ticket_hash(msgspec.structs.replace(ticket, signature="x"))


def test_tobacco_earns_nothing_and_points_are_whole_euros():
    ticket = a_ticket()
    assert ticket.points_earned == 3  # 3.98 EUR eligible, tobacco excluded


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"id": "S001-T01-7"}, "ticket id 'S001-T01-7' should be 'S001-T01-00000001'"),
        ({"store": "S002"}, "ticket S001-T01-00000001: store 'S002' does not match terminal S001-T01"),
        ({"total_cents": 1}, "ticket S001-T01-00000001: total 1 cents != sum of lines 1548"),
        ({"tenders": [Tender("cash", 1500)]}, "ticket S001-T01-00000001: tenders 1500 cents != total 1548"),
        (
            {"card": "2900000000019"},
            "ticket S001-T01-00000001: card number 2900000000019 has a wrong check digit: "
            "expected 8, got 9; check the number typed or scan the card again",
        ),
        ({"card": None}, "ticket S001-T01-00000001: points without a card"),
        ({"lines": []}, "ticket S001-T01-00000001: a ticket needs at least one line"),
    ],
)
def test_inconsistent_tickets_are_refused(changes, message):
    with pytest.raises(TicketError) as exc:
        validate_ticket(a_ticket(**changes))
    assert str(exc.value) == message


def test_line_total_must_add_up():
    ticket = a_ticket()
    bad = msgspec.structs.replace(ticket.lines[0], total_cents=1)
    with pytest.raises(TicketError, match=r"line 1 \(3017620422003\): line total 1 cents != quantity x unit price"):
        validate_ticket(msgspec.structs.replace(ticket, lines=[bad, ticket.lines[1]]))
