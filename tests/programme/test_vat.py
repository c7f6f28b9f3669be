"""The VAT table per rate, computed from each rate's TTC total: it always adds up to the ticket, to the cent."""

from hypothesis import given
from hypothesis import strategies as st

from datetime import datetime, timezone

from programme.closure import Vat
from programme.ticket import Line, Tender, Ticket, make_line
from programme.vat import RATES, VatRow, format_rate, tax_of, ticket_vat_table, vat_table

EVENING = datetime(2026, 7, 14, 19, 5, tzinfo=timezone.utc)


def test_tax_is_taken_from_the_ttc_of_each_rate_rounded_half_away_from_zero():
    assert tax_of(1200, 2000) == 200
    assert tax_of(-1200, 2000) == -200
    assert tax_of(1055, 550) == 55
    assert tax_of(102, 210) == 2  # 2.098 cents
    assert tax_of(11, 1000) == 1  # 1.0 cent
    assert tax_of(3, 2000) == 1  # 0.5 cent rounds up
    assert tax_of(-3, 2000) == -1


def test_the_table_has_one_row_per_rate_highest_first():
    table = vat_table([(550, 399), (2000, 1200), (550, 101), (210, 280)])
    assert table.rows == (
        VatRow(2000, 1000, 200, 1200),
        VatRow(550, 474, 26, 500),
        VatRow(210, 274, 6, 280),
    )
    assert (table.ht_cents, table.tva_cents, table.ttc_cents) == (1748, 232, 1980)
    assert [format_rate(rate) for rate in RATES] == ["20", "10", "5.5", "2.1"]


def test_a_line_sold_before_tickets_carried_a_rate_is_taxed_at_20_percent_on_receipts_statements_and_closures():
    """One rule (programme.vat.UNRECORDED_RATE): what the receipt and the statement show is what closures count."""
    from programme.closure import totals_of
    from server.desk.statement_pdf import vat_lines
    from terminal.receipt import render_receipt, render_vat_table

    old = Line("3017620422003", "Nutella", "grocery", 1, 1200, 0, 1200)
    new = make_line("3017620422003", 1, 1055, "grocery", "Nutella", vat_rate=550)
    ticket = Ticket(
        id="S001-T01-00000042",
        terminal="S001-T01",
        seq=42,
        store="S001",
        cashier="alice",
        opened_at=EVENING,
        closed_at=EVENING,
        lines=[old, new],
        tenders=[Tender("cash", 2255)],
        total_cents=2255,
        card=None,
        points=[],
        rules_version="2026.1",
    )
    assert ticket_vat_table(ticket).rows == (VatRow(2000, 1000, 200, 1200), VatRow(550, 1000, 55, 1055))
    assert vat_table([(None, 1200), (2000, 300)]).rows == (VatRow(2000, 1250, 250, 1500),)
    assert totals_of([ticket]).vat == {
        "2000": Vat(ttc_cents=1200, tva_cents=200, ht_cents=1000),
        "550": Vat(ttc_cents=1055, tva_cents=55, ht_cents=1000),
    }
    assert render_vat_table(ticket) == [
        "TVA               HT        TVA        TTC",
        "A 20 %       10,00 €     2,00 €    12,00 €",
        "C 5,5 %      10,00 €     0,55 €    10,55 €",
        "total        20,00 €     2,55 €    22,55 €",
    ]
    assert "Nutella                          12,00 € A" in render_receipt(ticket)
    assert vat_lines(ticket)[2:4] == [
        "    20 %                           10,00 €          2,00 €         12,00 €",
        "    5,5 %                          10,00 €          0,55 €         10,55 €",
    ]


lines = st.lists(
    st.tuples(st.sampled_from(RATES), st.integers(-99, 99).filter(bool), st.integers(0, 100_000), st.integers(0, 5000)),
    min_size=1,
    max_size=60,
)


@given(lines)
def test_the_table_always_adds_up_to_the_ticket_total_to_the_cent(drawn):
    ticket_lines = [
        make_line("3017620422003", qty, unit, discount_cents=min(discount, max(qty * unit, 0)), vat_rate=rate)
        for rate, qty, unit, discount in drawn
    ]
    table = ticket_vat_table(type("T", (), {"lines": ticket_lines})())
    assert table.ttc_cents == sum(line.total_cents for line in ticket_lines)
    assert table.ht_cents + table.tva_cents == table.ttc_cents
    for row in table.rows:
        assert row.ht_cents + row.tva_cents == row.ttc_cents
        assert abs(row.tva_cents * 10_000 - row.ht_cents * row.rate) <= (10_000 + row.rate) / 2 + 1
    assert len({row.rate for row in table.rows}) == len(table.rows)


def test_a_line_keeps_its_vat_rate_on_the_wire_and_old_lines_encode_as_before():
    import msgspec
    import pytest

    from programme.errors import TicketError

    old = make_line("3017620422003", 1, 399)
    assert b"vat_rate" not in msgspec.json.encode(old)  # an old ticket hashes and signs as it did
    sold = make_line("3017620422003", 1, 399, vat_rate=550)
    assert msgspec.json.decode(msgspec.json.encode(sold), type=Line).vat_rate == 550
    with pytest.raises(msgspec.ValidationError, match="Expected `int` <= 10000 - at `\\$.vat_rate`"):
        msgspec.json.decode(
            b'{"gtin": "3017620422003", "label": "x", "category": "c", "quantity": 1, '
            b'"unit_cents": 1, "total_cents": 1, "vat_rate": 10001}',
            type=Line,
        )
    with pytest.raises(
        TicketError,
        match=r"^line 1 \(3017620422003\): VAT rate -1 is outside 0 to 10000 basis "
        r"points$",
    ):
        make_line("3017620422003", 1, 399, vat_rate=-1)
