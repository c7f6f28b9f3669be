"""Receipts a French store can hand out: French amounts with plain spaces, the VAT table, the bytes a printer
gets (CP858 for the € sign), AGEC (printed on request; durable goods and refunds at once) and the store's legal
mentions."""

from datetime import datetime, timezone

import pytest
from escpos.printer import Dummy

from programme.i18n import use_language
from programme.ticket import Tender, Ticket, make_line
from terminal.errors import TillError
from terminal.receipt import print_text, render_receipt, render_vat_table
from terminal.store_settings import StoreSettings, load_settings, parse_settings
from terminal.till import TillSession

NUTELLA, KETTLE = "3017620422003", "3000000000014"
EVENING = datetime(2026, 7, 14, 19, 5, tzinfo=timezone.utc)  # 21:05 in Paris (summer time)


def big_ticket() -> Ticket:
    lines = [
        make_line(NUTELLA, 300, 399, "grocery", "Nutella 400 g", vat_rate=550),
        make_line("5000112637922", 1, 11999, "electronics", "Casque audio", vat_rate=2000),
        make_line("96385074", 1, 280, "press", "Quotidien", vat_rate=210),
    ]
    total = sum(line.total_cents for line in lines)
    return Ticket(
        id="S001-T01-00000042",
        terminal="S001-T01",
        seq=42,
        store="S001",
        cashier="alice",
        opened_at=EVENING,
        closed_at=EVENING,
        lines=lines,
        tenders=[Tender("bank_card", total)],
        total_cents=total,
        card=None,
        points=[],
        rules_version="2026.1",
    )


def test_a_french_receipt_shows_paris_time_and_amounts_with_plain_spaces(monkeypatch):
    monkeypatch.delenv("LOYALTY_LANG", raising=False)
    text = render_receipt(big_ticket())
    assert text.splitlines()[2].startswith("14/07/2026 21:05")
    assert "1 197,00 € C" in text  # 300 x 3,99 €: the line TTC with its VAT code
    assert text.splitlines()[-1].strip() == "loyalty-engine 0.1.0"
    assert "1 319,79 €" in text and "\u202f" not in text and "\u00a0" not in text


def test_the_vat_table_has_a_row_per_rate_and_adds_up_to_the_ticket():
    with use_language("en"):
        assert render_vat_table(big_ticket()) == [
            "VAT        excl. VAT        VAT  incl. VAT",
            "A 20%         €99.99     €20.00    €119.99",
            "C 5.5%     €1,134.60     €62.40  €1,197.00",
            "D 2.1%         €2.74      €0.06      €2.80",
            "total      €1,237.33     €82.46  €1,319.79",
        ]
    assert big_ticket().total_cents == 131979


def test_the_printer_gets_code_page_cp858_the_euro_sign_and_no_narrow_spaces(monkeypatch):
    monkeypatch.delenv("LOYALTY_LANG", raising=False)
    device = Dummy()
    print_text(device, render_receipt(big_ticket()))
    sent = device.output
    assert sent.startswith(b"\x1bt\x13")  # ESC t 19: code page CP858 (PC858 in python-escpos' default profile)
    assert b"1 197,00 \xd5 C\n" in sent  # the euro sign is 0xD5 in CP858
    assert "\u202f".encode() not in sent and b"\xe2\x82\xac" not in sent
    assert sent.endswith(b"\x1dV\x00")  # the cut


def test_a_receipt_prints_on_request_but_durable_goods_print_at_once(tmp_path, english):
    session = TillSession(str(tmp_path / "till.db"), "S001-T01")
    session.scan(NUTELLA)
    session.pay("cash")
    closed = session.close()
    assert not closed.printed and session.printer.output == b""  # AGEC: not printed unasked
    assert session.print_receipt() == closed.receipt
    assert session.printer.output.count(b"S001-T01-00000001") == 2
    with pytest.raises(TillError) as again:
        session.print_receipt()
    assert str(again.value) == "no receipt waiting to be printed: reprint (F8) prints a copy marked DUPLICATA"
    session.scan("3000000000007@24.99")
    electronics = session.basket.lines[-1]
    session.basket.lines[-1] = make_line(electronics.gtin, 1, 2499, "electronics", "Bouilloire", vat_rate=2000)
    session.pay("bank_card")
    closed = session.close()
    assert closed.printed and session.printer.output.count(b"S001-T01-00000002") == 2
    returned = session.return_lines("S001-T01-00000001", {0: 1}, ask=False)
    assert returned.printed  # a refund's receipt is the store's proof: it prints
    session.close_session()


GOOD = """name = "Supermarché du Centre"
address = ["12 rue de la Paix", "75002 Paris"]
siret = "732 829 320 00074"
vat_number = "FR 44 732829320"
"""


def test_the_store_settings_are_read_beside_the_till_key_and_checked(tmp_path, monkeypatch):
    monkeypatch.delenv("LOYALTY_STORE_SETTINGS", raising=False)
    key = tmp_path / "S001-T01.key"
    assert load_settings(key) is None
    (tmp_path / "store.toml").write_text(GOOD)
    assert load_settings(key) == StoreSettings(
        "Supermarché du Centre", ("12 rue de la Paix", "75002 Paris"), "73282932000074", "FR44732829320"
    )
    bad = [
        (
            GOOD.replace("00074", "00075"),
            "store.toml: siret '732 829 320 00075' is not a SIRET (14 digits with a "
            "valid key): copy it from the store's Kbis",
        ),
        (
            GOOD.replace("FR 44", "FR 45"),
            "store.toml: vat_number 'FR 45 732829320' is not a French VAT number (FR, 2-digit key, SIREN)",
        ),
        (
            GOOD.replace('"FR 44 732829320"', '"FR64443061841"'),
            "store.toml: vat_number FR64443061841 is not the one of SIRET 73282932000074 (SIREN 732829320)",
        ),
        (GOOD + "phone = 1\n", "store.toml: unknown field 'phone': the fields are name, address, siret, vat_number"),
        ('name = ""\n', "store.toml: name must be the store's name, 1 to 42 characters"),
    ]
    for text, error in bad:
        with pytest.raises(TillError) as refused:
            parse_settings(text)
        assert str(refused.value) == error
