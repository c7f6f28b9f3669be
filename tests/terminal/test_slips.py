"""Every slip the till prints besides the receipt (tests/terminal/test_receipt.py): the Z report, the control
slip, loyalty cheques, a return's receipt, a duplicate and a training ticket. Money reads `1 234,56 €` with plain
spaces, dates `05/12/2026 14:32` in Paris time, French by default and English with LOYALTY_LANG=en; the bytes a
printer gets are CP858 (the € sign is 0xD5) with no U+202F."""

from datetime import datetime, timezone

import pytest
from escpos.printer import Dummy

from programme.closure import Closure, Totals, Vat
from programme.journal_event import EventTotals
from programme.ticket import PointsEntry, Tender, Ticket, make_line
from terminal.receipt import (
    print_text,
    render_cheques,
    render_control_slip,
    render_duplicate,
    render_receipt,
    render_training,
)
from terminal.zreport import render_z_report

EVENING = datetime(2026, 12, 5, 22, 59, tzinfo=timezone.utc)  # 23:59 in Paris (winter time)
CARD = "2900000000018"


def closure() -> Closure:
    day = Totals(
        tickets=1234,
        sales_cents=1_234_567,
        returns_cents=12_345,
        tenders={"cash": 222_222, "bank_card": 1_000_000},
        points_earned=12_000,
        vat={
            "2000": Vat(ttc_cents=1_000_000, tva_cents=166_667, ht_cents=833_333),
            "550": Vat(ttc_cents=222_222, tva_cents=11_585, ht_cents=210_637),
        },
    )
    return Closure(
        terminal="S001-T01",
        kind="day",
        period="2026-12-05",
        number=3,
        closed_at=EVENING,
        first_seq=1,
        last_seq=1234,
        period_totals=day,
        grand_totals=Totals(tickets=98_765, sales_cents=123_456_789),
        signature="0123456789abcdef0123",
        events=EventTotals(
            line_voids=2, line_voids_cents=1_299, cancelled=1, cancelled_cents=123_456, reprints=4, training=1
        ),
    )


Z_FR = """\
           RAPPORT Z 05/12/2026
        caisse S001-T01  clôture 3
------------------------------------------
clôturé le                05/12/2026 23:59
tickets                              1 234
ventes                         12 345,67 €
retours                           123,45 €
net                            12 222,22 €
  espèces                       2 222,22 €
  carte bancaire               10 000,00 €
------------------------------------------
TVA 20 %
  HT                            8 333,33 €
  TVA                           1 666,67 €
  TTC                          10 000,00 €
TVA 5,5 %
  HT                            2 106,37 €
  TVA                             115,85 €
  TTC                           2 222,22 €
------------------------------------------
lignes annulées                (2) 12,99 €
tickets annulés             (1) 1 234,56 €
réimpressions                            4
tickets mode école              (1) 0,00 €
------------------------------------------
total perpétuel             1 234 567,89 €
tickets depuis l'origine            98 765
------------------------------------------
        signature 0123456789abcdef
"""

Z_EN = """\
           Z REPORT 05/12/2026
         till S001-T01  closure 3
------------------------------------------
closed at                 05/12/2026 23:59
tickets                              1,234
sales                           €12,345.67
returns                            €123.45
net                             €12,222.22
  cash                           €2,222.22
  bank card                     €10,000.00
------------------------------------------
VAT 20%
  excl. VAT                      €8,333.33
  VAT                            €1,666.67
  incl. VAT                     €10,000.00
VAT 5.5%
  excl. VAT                      €2,106.37
  VAT                              €115.85
  incl. VAT                      €2,222.22
------------------------------------------
line voids                      (2) €12.99
cancelled tickets            (1) €1,234.56
reprints                                 4
training tickets                 (1) €0.00
------------------------------------------
perpetual total              €1,234,567.89
tickets since the first day         98,765
------------------------------------------
        signature 0123456789abcdef
"""


def lines_of(text: str) -> list[str]:
    return [line.rstrip() for line in text.splitlines()]  # centred lines end with spaces


def test_the_z_report_in_french_reads_amounts_dates_and_rates_as_people_do():
    assert lines_of(render_z_report(closure())) == lines_of(Z_FR)


def test_the_z_report_in_english(english):
    assert lines_of(render_z_report(closure())) == lines_of(Z_EN)


def sent(text: str) -> bytes:
    device = Dummy()
    print_text(device, text)
    return device.output


def test_the_z_report_reaches_the_printer_in_cp858_with_plain_spaces():
    out = sent(render_z_report(closure()))
    assert out.startswith(b"\x1bt\x13")  # ESC t 19: code page CP858
    assert b"total perp\x82tuel             1 234 567,89 \xd5\n" in out  # é is 0x82, the € sign 0xD5
    assert b"cl\x93ture 3" in out and b"05/12/2026 23:59\n" in out
    assert "\u202f".encode() not in out and "\u00a0".encode() not in out and b"\xe2\x82\xac" not in out


def points_ticket(**changes) -> Ticket:
    lines = [make_line("3017620422003", 400, 399, "grocery", "Nutella 400 g", vat_rate=550)]
    total = lines[0].total_cents
    fields = dict(
        id="S001-T01-00000042",
        terminal="S001-T01",
        seq=42,
        store="S001",
        cashier="alice",
        opened_at=EVENING,
        closed_at=EVENING,
        lines=lines,
        tenders=[Tender("points", 150_000), Tender("cash", total - 150_000)],
        total_cents=total,
        card=CARD,
        points=[
            PointsEntry(kind="redeem", rule="points tender", points=150_000),
            PointsEntry(kind="redeem", rule="loyalty cheque: 1 x 1234.56 EUR", points=123_456),
        ],
        rules_version="2026.1",
    )
    return Ticket(**(fields | changes))


@pytest.mark.parametrize(
    "lang, wanted",
    [
        (
            "fr",
            [
                "date                      05/12/2026 23:59",
                "points déduits                     150 000",
                "payé en points                  1 500,00 €",
                "solde avant                        300 000",
                "solde après                        150 000",
            ],
        ),
        (
            "en",
            [
                "date                      05/12/2026 23:59",
                "points deducted                    150,000",
                "paid with points                 €1,500.00",
                "balance before                     300,000",
                "balance after                      150,000",
            ],
        ),
    ],
)
def test_the_control_slip_in_french_and_english(monkeypatch, lang, wanted):
    monkeypatch.setenv("LOYALTY_LANG", lang)
    paid = points_ticket(points=[PointsEntry(kind="redeem", rule="points tender", points=150_000)])
    slip = render_control_slip(paid, balance_before=300_000, balance_after=150_000).splitlines()
    for line in wanted:
        assert line in slip
    out = sent("\n".join(slip))
    assert "\u202f".encode() not in out and b"\xe2\x82\xac" not in out
    if lang == "fr":
        assert b"BON DE CONTR\xe2LE" in out and b"1 500,00 \xd5" in out  # Ô is 0xE2 in CP858


def test_loyalty_cheques_print_their_value_date_and_validity_in_french():
    (slip,) = render_cheques(points_ticket())
    lines = slip.splitlines()
    assert "valeur                          1 234,56 €" in lines
    assert "date                      05/12/2026 23:59" in lines
    assert "valable jusqu'au                05/03/2027" in lines  # 90 days
    assert b"CH\xd4QUE FID\x90LIT\x90" in sent(slip) and b"1 234,56 \xd5" in sent(slip)


def test_a_return_a_duplicate_and_a_training_ticket_print_in_french_with_plain_spaces():
    returned = make_line("3017620422003", -400, 399, "grocery", "Nutella 400 g", vat_rate=550)
    refund = points_ticket(
        lines=[returned], tenders=[Tender("cash", returned.total_cents)], total_cents=returned.total_cents, points=[]
    )
    receipt = render_receipt(refund)
    assert "RETOUR" in receipt and "-1 596,00 € C" in receipt
    assert "05/12/2026 23:59" in receipt.splitlines()[2]
    for text in (receipt, render_duplicate(receipt, 2), render_training(receipt)):
        out = sent(text)
        assert b"-1 596,00 \xd5" in out and "\u202f".encode() not in out and b"\xe2\x82\xac" not in out
    assert b"*** DUPLICATA 2 ***" in sent(render_duplicate(receipt, 2))
    assert b"MODE \x90COLE" in sent(render_training(receipt))


def test_the_whole_french_receipt_and_control_slip_with_the_store_s_legal_mentions():
    """The receipt of tests/terminal/test_till_session.py (English there) as a French store prints it: legal
    mentions, Paris time, lines TTC with their VAT code, the VAT table, points per rule, balance, expiry, footer."""
    from datetime import date
    from pathlib import Path

    from terminal.store_settings import StoreSettings
    from tests.terminal.test_till_session import expected_sale_ticket

    expected = Path(__file__).with_name("expected")
    settings = StoreSettings(
        "Supermarché du Centre", ("12 rue de la Paix", "75002 Paris"), "73282932000074", "FR44732829320"
    )
    text = render_receipt(
        expected_sale_ticket(),
        change_cents=751,
        balance=1251,
        balance_confirmed=False,
        settings=settings,
        expires_on=date(2028, 2, 28),
    )
    slip = render_control_slip(expected_sale_ticket(), balance_before=1500, balance_after=1251)
    assert text == (expected / "receipt_sale_fr.txt").read_text()
    assert slip == (expected / "control_slip_fr.txt").read_text()
    out = sent(text)
    assert "Supermarché du Centre".encode("cp858") in out and "N° TVA intracom.".encode("cp858") in out
    assert b"33,58 \xd5" in out and "\u202f".encode() not in out


def test_a_loyalty_cheque_reaches_the_printer_in_cp858_like_every_other_slip():
    """The cheque is printed by its own function (its serial as a barcode): it too switches to CP858 once, so
    the € sign is 0xD5 and the printer is never asked for another code page mid-line."""
    from programme.redemption import cheques_issued
    from terminal.cheques import print_cheque

    ticket = points_ticket()
    (slip,) = render_cheques(ticket)
    ((serial, _cents),) = cheques_issued(ticket)
    device = Dummy()
    print_cheque(device, slip, serial)
    out = device.output
    assert out.startswith(b"\x1bt\x13") and out.count(b"\x1bt") == 1  # ESC t 19 (CP858), and no other
    assert b"CH\xd4QUE FID\x90LIT\x90" in out and b"1 234,56 \xd5\n" in out
    assert b"num\x82ro" in out  # é in CP858


def test_everything_a_french_till_prints_for_one_sale_is_cp858(tmp_path):
    """A sale with points redeemed (control slip), loyalty cheques issued (slips with barcodes) and the receipt
    asked for (AGEC): every byte the printer gets is CP858 text, in French, without a code page switch."""
    import re

    from terminal import cardstate
    from terminal.till import TillSession

    session = TillSession(str(tmp_path / "till.db"), "S001-T01", cashier="alice")
    try:
        cardstate.remember_balance(session.journal.conn, CARD, 1507, "2026-01-01T00:00:00+00:00")
        session.identify(CARD)
        session.scan("3017620422003")  # Nutella, 3,99 € at 5,5 % in the demo catalogue
        session.redeem(300)
        session.issue_cheques()
        session.basket.pay("cash")
        closed = session.close()
        session.print_receipt()
        out = session.printer.output
    finally:
        session.close_session()
    assert closed.cheques and closed.control_slip
    assert set(re.findall(rb"\x1bt(.)", out, re.DOTALL)) == {b"\x13"}  # ESC t: CP858 only
    assert b"BON DE CONTR\xe2LE" in out and b"CH\xd4QUE FID\x90LIT\x90" in out and b"5,5 %" in out
    assert b"5,00 \xd5" in out and b"3,99 \xd5 C" in out
    for absent in ("\u202f", "\u00a0", "€"):
        assert absent.encode() not in out


def test_closing_the_day_at_the_till_speaks_french_and_prints_the_z_report_in_cp858(tmp_path):
    """F12 and Ctrl+T on the French screen: the refusals a cashier reads are French, the Z report shows and prints
    in French, and closing the same day again says so in French."""
    from programme.i18n import format_date
    from programme.signing import new_private_key, private_key_pem
    from programme.ticket import utc_now
    from terminal.app import TillApp
    from tests.terminal.test_app import OIL, SIZE, pilot_test, text_of, type_in

    key = tmp_path / "till.key"
    key.write_bytes(private_key_pem(new_private_key()))
    key.chmod(0o600)

    @pilot_test
    async def without_a_key():
        app = TillApp(str(tmp_path / "keyless.db"), "S001-T02", cashier="alice")
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("f12")
            assert text_of(app, "#message") == (
                "cette caisse n'a pas de clé de signature : provisionnez-la (loyalty till provision) "
                "avant de clôturer une journée"
            )

    @pilot_test
    async def with_its_key():
        app = TillApp(str(tmp_path / "till.db"), "S001-T01", cashier="alice", key=str(key))
        async with app.run_test(size=SIZE) as pilot:
            await type_in(pilot, OIL)
            await pilot.press("f12")
            assert text_of(app, "#message") == (
                "une vente est en cours : clôturez-la ou annulez-la avant de clôturer la journée"
            )
            await pilot.press("ctrl+t")
            assert text_of(app, "#message") == (
                "une vente est en cours : clôturez-la ou annulez-la avant de changer de mode école"
            )
            await pilot.press("f10")
            await type_in(pilot, "")
            await pilot.press("f12")
            assert text_of(app, "#message") == "journée clôturée : rapport Z imprimé"
            today = format_date(utc_now())
            assert text_of(app, "#receipt").splitlines()[0].strip() == f"RAPPORT Z {today}"
            assert f"RAPPORT Z {today}".encode("cp858") in app.session.printer.output
            await pilot.press("f12")
            assert text_of(app, "#message") == (
                f"la journée du {today} est déjà clôturée (clôture 1) : la suivante se clôture demain"
            )

    without_a_key()
    with_its_key()


def test_the_close_day_key_first_closes_the_days_the_till_left_open(tmp_path, monkeypatch):
    """A till that sold on the 20th and the 21st and was never closed: F12 on the 22nd closes the 20th, the
    21st, then the 22nd, in order, and prints their three Z reports (closures go forward, once per day), instead
    of refusing with a message the cashier cannot act on from the screen."""
    import programme.ticket
    import terminal.closures
    from terminal.closures import closures
    from terminal.till import TillSession
    from tests.fixtures.closing import TILL, sold_till

    till = sold_till(tmp_path, monkeypatch)  # 3 tickets on the 20th, 2 on the 21st (UTC, Paris the same days)
    morning = datetime(2026, 11, 22, 8, 30, tzinfo=timezone.utc)
    monkeypatch.setattr(programme.ticket, "utc_now", lambda: morning)
    monkeypatch.setattr(terminal.closures, "utc_now", lambda: morning)
    session = TillSession(str(till["db"]), TILL, cashier="alice", key=till["key"])
    try:
        text = session.close_day()
        titles = [line.strip() for line in text.splitlines() if "RAPPORT Z" in line]
        assert titles == ["RAPPORT Z 20/11/2026", "RAPPORT Z 21/11/2026", "RAPPORT Z 22/11/2026"]
        assert [(c.period, c.period_totals.tickets) for c in closures(session.journal, "day")] == [
            ("2026-11-20", 3),
            ("2026-11-21", 2),
            ("2026-11-22", 0),
        ]
        assert session.printer.output.count(b"RAPPORT Z") == 3
    finally:
        session.close_session()


def test_the_cashier_reads_how_many_days_f12_closed(tmp_path, monkeypatch):
    import programme.ticket
    import terminal.closures
    from terminal.app import TillApp
    from tests.fixtures.closing import TILL, sold_till
    from tests.terminal.test_app import SIZE, pilot_test, text_of

    till = sold_till(tmp_path, monkeypatch)
    morning = datetime(2026, 11, 22, 8, 30, tzinfo=timezone.utc)
    monkeypatch.setattr(programme.ticket, "utc_now", lambda: morning)
    monkeypatch.setattr(terminal.closures, "utc_now", lambda: morning)

    @pilot_test
    async def run():
        app = TillApp(str(till["db"]), TILL, cashier="alice", key=till["key"])
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("f12")
            assert text_of(app, "#message") == (
                "3 journées clôturées (les journées restées ouvertes d'abord) : leurs rapports Z sont imprimés"
            )
            assert text_of(app, "#receipt").splitlines()[0].strip() == "RAPPORT Z 20/11/2026"

    run()
