"""Points adjustments with a mandatory reason, never below zero, and the statement over a period."""

from datetime import date, timedelta

import pytest

from server.desk import cards, corrections, customers

from ..fixtures.desk import (  # noqa: F401 - fixtures; both_engines: each test on SQLite and PostgreSQL
    CARD_A,
    CARD_B,
    ENROL,
    both_engines,
    error_of,
    sell_anonymously,
)

pytestmark = pytest.mark.usefixtures("english")  # written when the pages spoke only English


@pytest.fixture
def holder(desk):
    sell_anonymously(desk.db_path, CARD_A, 2)  # 24 points
    customer_id = customers.enrol(desk.conn, ENROL, "seed")
    cards.issue(desk.conn, customer_id, CARD_A, "seed")
    return customer_id


def _ledger(desk):
    return desk.count("ledger"), desk.count("audit")


def test_adjustment_is_an_adjust_entry_caused_by_its_audit_entry(desk, holder):
    client = desk.client("card_manager")
    response = desk.post(
        client, f"/customers/{holder}/adjust", card=CARD_A, points="-20", reason="points earned on a returned TV"
    )
    assert response.status_code == 302
    assert "Adjusted by -20 points: points earned on a returned TV." in client.get(response.location).get_data(True)
    entry = desk.conn.execute("SELECT * FROM ledger WHERE kind = 'adjust'").fetchone()
    audit_id, actor, reason = desk.conn.execute(
        "SELECT id, actor, reason FROM audit WHERE action = 'adjust'"
    ).fetchone()
    assert (entry["card"], entry["points"], entry["cause"]) == (CARD_A, -20, f"desk:{audit_id}")
    assert entry["rule"] == "desk adjustment: points earned on a returned TV"
    assert (actor, reason) == ("card-manager", "points earned on a returned TV")
    assert customers.balance(desk.conn, holder) == 4


@pytest.mark.parametrize(
    "points,reason,status,message",
    [
        (
            "-25",
            "till error",
            409,
            f"adjustment of -25 points would take card {CARD_A} below zero (balance 24): take at most 24 points",
        ),
        ("10", "  ", 400, "a reason is required for a points adjustment: say why (e.g. till error on ticket ...)"),
        ("ten", "x", 400, "points 'ten' is not a whole number: type e.g. 50 or -20"),
        ("0", "x", 400, "an adjustment of 0 points changes nothing: type a positive or negative number"),
        ("1000000", "x", 400, "an adjustment is at most 100000 points either way: ask head office"),
    ],
)
def test_bad_adjustments_are_refused_and_nothing_is_written(desk, holder, points, reason, status, message):
    before = _ledger(desk)
    response = desk.post(
        desk.client("card_manager"), f"/customers/{holder}/adjust", card=CARD_A, points=points, reason=reason
    )
    assert response.status_code == status and error_of(response) == message
    assert _ledger(desk) == before


def test_adjusting_a_card_of_someone_else_is_refused(desk, holder):
    other = customers.enrol(desk.conn, {**ENROL, "name": "Pierre Curie"}, "seed")
    cards.issue(desk.conn, other, CARD_B, "seed")
    response = desk.post(desk.client("admin"), f"/customers/{other}/adjust", card=CARD_A, points="5", reason="x")
    assert response.status_code == 404
    assert error_of(response) == f"card {CARD_A} is not one of customer {other}'s cards"


def test_statement_over_a_period_has_opening_entries_and_closing(desk, holder):
    corrections.adjust(desk.conn, holder, CARD_A, 30, "welcome gift", "seed")
    today = date.today()
    data = corrections.statement(desk.conn, holder, today, today)
    assert (data["opening"], data["credits"], data["debits"], data["closing"]) == (24, 30, 0, 54)
    assert [e["kind"] for e in data["entries"]] == ["adjust"]
    whole = corrections.statement(desk.conn, holder, today - timedelta(days=7), today)
    assert (whole["opening"], [e["running"] for e in whole["entries"]]) == (0, [12, 24, 54])
    page = (
        desk.client("head_office")
        .get(f"/customers/{holder}/statement?start={today - timedelta(days=7)}&end={today}")
        .get_data(as_text=True)
    )
    assert "Points statement" in page and 'id="opening">0<' in page and 'id="closing">54<' in page
    assert "desk adjustment: welcome gift" in page
    response = desk.client("head_office").get(f"/customers/{holder}/statement?start={today}&end=2001-01-01")
    assert response.status_code == 400
    assert error_of(response) == f"the period ends (2001-01-01) before it starts ({today}): swap the dates"


def pdf_text(body: bytes) -> tuple[int, str]:
    """Pages and text of a PDF, read back with pypdf."""
    import io

    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(body))
    return len(reader.pages), "\n".join(page.extract_text() for page in reader.pages)


@pytest.mark.parametrize(
    "accept, who, closing, title, adjusted",
    [
        (
            "fr-FR,fr;q=0.9",
            "Marie Curie (client 1), 75005",
            r"Solde de clôture\s+54",
            "RELEVÉ DE POINTS",
            r"ajustement à l'accueil : welcome gift\s+\+30\s+54\n\s*\(Noël\) *\n",  # wrapped in its column
        ),
        (
            "en-GB,en;q=0.8",
            "Marie Curie (customer 1), 75005",
            r"Closing balance\s+54",
            "POINTS STATEMENT",
            r"desk adjustment: welcome gift \(Noël\)\s+\+30\s+54\n",
        ),
    ],
)
def test_statement_pdf_is_a_well_formed_pdf_with_the_same_figures(desk, holder, accept, who, closing, title, adjusted):
    import re

    corrections.adjust(desk.conn, holder, CARD_A, 30, "welcome gift (Noël)", "seed")
    today = date.today()
    response = desk.client("head_office").get(
        f"/customers/{holder}/statement.pdf?start={today - timedelta(days=7)}&end={today}",
        headers={"Accept-Language": accept},
    )
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    pages, text = pdf_text(response.get_data())
    assert pages == 1
    assert text.startswith(title + "\n") and who in text
    assert re.search(closing, text)
    assert re.search(adjusted, text), text  # the desk's rule name in the reader's language; the reason as typed
    assert f"{today - timedelta(days=7):%d/%m/%Y}" in text  # days as people read them, in both languages


def test_the_pdf_core_font_prints_the_euro_sign_and_french_punctuation():
    from server.desk.statement_pdf import text_pdf

    from programme.i18n import format_money

    pages, text = pdf_text(text_pdf([f"Total {format_money(123456, lang='fr')} – chèque fidélité d’œuvre…"]))
    assert text == "Total 1 234,56 € – chèque fidélité d’œuvre…"


def test_a_long_statement_runs_over_several_pages():
    from server.desk.statement_pdf import text_pdf

    pages, text = pdf_text(text_pdf([f"line {n}" for n in range(200)]))
    assert pages == 4 and "line 0" in text and "line 199" in text


@pytest.mark.parametrize(
    "accept, rows",
    [
        (
            "fr-FR,fr;q=0.9",
            [
                r"Taux de TVA\s+HT\s+TVA\s+TTC",
                r"20 %\s+16,66 €\s+3,33 €\s+19,99 €",
                r"5,5 %\s+13,67 €\s+0,75 €\s+14,42 €",
                r"Total\s+30,33 €\s+4,08 €\s+34,41 €",
            ],
        ),
        (
            "en-GB,en;q=0.8",
            [
                r"VAT rate\s+Excl\. VAT\s+VAT\s+Incl\. VAT",
                r"20%\s+€16\.66\s+€3\.33\s+€19\.99",
                r"5\.5%\s+€13\.67\s+€0\.75\s+€14\.42",
                r"Total\s+€30\.33\s+€4\.08\s+€34\.41",
            ],
        ),
    ],
)
def test_statement_pdf_shows_each_tickets_vat_table_as_its_receipt_does(desk, holder, accept, rows):
    """The head-office ticket page and the statement PDF show the same VAT table: programme.vat's, per ticket."""
    import re

    from programme.ticket import make_line
    from programme.vat import ticket_vat_table

    lines = [
        make_line("3017620422003", 3, 199, label="spread 400g", vat_rate=550),
        make_line("3228857000906", 1, 845, category="fresh", label="salmon fillet", vat_rate=550),
        make_line("3760091720010", 1, 1999, category="electronics", label="usb cable", vat_rate=2000),
    ]
    (sold,) = sell_anonymously(desk.db_path, CARD_A, 1, first_seq=3, lines=lines)
    table = ticket_vat_table(sold)
    assert (table.ht_cents, table.tva_cents, table.ttc_cents) == (3033, 408, 3441) == (3033, 408, sold.total_cents)
    today = date.today()
    response = desk.client("head_office").get(
        f"/customers/{holder}/statement.pdf?start={today - timedelta(days=7)}&end={today}",
        headers={"Accept-Language": accept},
    )
    pages, text = pdf_text(response.get_data())
    after = text[text.index(sold.id) :]
    for row in rows:
        assert re.search(row, after), (row, after)
    page = desk.client("head_office").get(f"/office/tickets/{sold.id}", headers={"Accept-Language": accept})
    shown = re.sub(r"<[^>]+>", " ", page.get_data(as_text=True)).replace("\u202f", " ").replace("\xa0", " ")
    for row in rows:  # the head-office ticket page: the same rows, the same figures
        assert re.search(row, shown), (row, shown)


def test_statement_purchases_say_when_there_are_none_or_when_the_period_has_more_than_listed(english):
    from server.desk.statement_pdf import purchase_lines

    from programme.ticket import make_line

    assert purchase_lines([])[-1] == "No purchase with the customer's cards in the period."
    sold = sell_tickets_in_memory(make_line("3017620422003", 1, 199, vat_rate=550))
    lines = purchase_lines([sold, sold], limit=2)
    assert lines[-1] == "Only the first 2 tickets are listed: print a shorter period for the others."
    assert "Only the first" not in "\n".join(purchase_lines([sold], limit=2))


def sell_tickets_in_memory(line):
    from datetime import datetime, timezone

    from programme.ticket import Tender, Ticket

    return Ticket(
        id="S001-T01-00000009",
        terminal="S001-T01",
        seq=9,
        store="S001",
        cashier="c1",
        opened_at=datetime(2026, 12, 5, 13, 30, tzinfo=timezone.utc),
        closed_at=datetime(2026, 12, 5, 13, 32, tzinfo=timezone.utc),
        lines=[line],
        tenders=[Tender(kind="cash", cents=line.total_cents)],
        total_cents=line.total_cents,
        card=None,
        points=[],
        rules_version="base-1",
    )


def test_the_ticket_page_and_the_customer_page_speak_french_to_a_french_browser(desk, holder):
    """Head office's ticket page: its statuses and journal events in the page's language; the customer's profile."""
    import re

    french = {"Accept-Language": "fr-FR,fr;q=0.9"}
    client = desk.client("admin")
    page = client.get("/office/tickets/S001-T01-00000001", headers=french).get_data(as_text=True)
    assert 'id="signature">absente<' in page and 'id="chain">premier ticket de la caisse<' in page
    assert "<h2>Événements du journal</h2>" in page and "Aucune annulation ni réimpression de ce ticket." in page
    english = client.get("/office/tickets/S001-T01-00000001", headers={"Accept-Language": "en"}).get_data(True)
    assert 'id="signature">unsigned<' in english and "<h2>Journal events</h2>" in english
    shown = client.get(f"/customers/{holder}", headers=french).get_data(as_text=True)
    assert re.search(r'id="known"><h2>Ce que nous savons</h2>', shown)


@pytest.mark.parametrize(
    "accept, heading, rows",
    [
        (
            "fr-FR,fr;q=0.9",
            "Achats et TVA par taux",
            [
                ("Taux de TVA", "HT", "TVA", "TTC"),
                ("20 %", "16,66 €", "3,33 €", "19,99 €"),
                ("5,5 %", "13,67 €", "0,75 €", "14,42 €"),
                ("Total", "30,33 €", "4,08 €", "34,41 €"),
            ],
        ),
        (
            "en-GB,en;q=0.8",
            "Purchases and VAT per rate",
            [
                ("VAT rate", "Excl. VAT", "VAT", "Incl. VAT"),
                ("20%", "€16.66", "€3.33", "€19.99"),
                ("5.5%", "€13.67", "€0.75", "€14.42"),
                ("Total", "€30.33", "€4.08", "€34.41"),
            ],
        ),
    ],
)
def test_the_statement_page_shows_each_tickets_vat_table_as_the_pdf_does(desk, holder, accept, heading, rows):
    """The HTML statement lists the period's tickets, each with programme.vat's table (as the PDF and receipt)."""
    import re

    from programme.ticket import make_line

    lines = [
        make_line("3017620422003", 3, 199, label="spread 400g", vat_rate=550),
        make_line("3228857000906", 1, 845, category="fresh", label="salmon fillet", vat_rate=550),
        make_line("3760091720010", 1, 1999, category="electronics", label="usb cable", vat_rate=2000),
    ]
    (sold,) = sell_anonymously(desk.db_path, CARD_A, 1, first_seq=3, lines=lines)
    today = date.today()
    response = desk.client("head_office").get(
        f"/customers/{holder}/statement?start={today - timedelta(days=7)}&end={today}",
        headers={"Accept-Language": accept},
    )
    assert response.status_code == 200
    page = response.get_data(as_text=True).replace("\u202f", " ").replace("\xa0", " ")
    assert f"<h2>{heading}</h2>" in page
    (table,) = re.findall(rf'<table class="lines vat" id="vat-{sold.id}">(.*?)</table>', page, re.S)
    cells = [
        tuple(re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S))
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", table, re.S)
    ]
    assert cells == rows


def test_the_statement_page_says_when_the_period_has_no_purchase(desk, holder):
    response = desk.client("head_office").get(f"/customers/{holder}/statement?start=2020-01-01&end=2020-01-31")
    assert "No purchase with the customer's cards in the period." in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "accept, shown",
    [
        (
            "fr-FR,fr;q=0.9",
            ["base : 1 point par euro", "ajustement à l'accueil : till error", "chèques fidélité : 2 x 5,00 €"],
        ),
        ("en-GB,en;q=0.8", ["base: 1 point per euro", "desk adjustment: till error", "loyalty cheques: 2 x €5.00"]),
    ],
)
def test_the_ledger_names_the_code_composes_read_in_the_pages_language(desk, holder, accept, shown):
    """The customer page, the statement page and its PDF show the rules the code composed in the reader's
    language; the reason typed at the desk stays as typed."""
    import re

    client = desk.client("card_manager")
    desk.post(client, f"/customers/{holder}/adjust", card=CARD_A, points="-2", reason="till error")
    desk.conn.execute(
        "INSERT INTO ledger (card, kind, points, rule, cause, ticket_id, at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (CARD_A, "redeem", -10, "loyalty cheque: 2 x 5.00 EUR", f"cheques:{CARD_A}:x", None, date.today().isoformat()),
    )
    desk.conn.commit()
    today = date.today()
    period = f"start={today - timedelta(days=7)}&end={today}"
    for url in (f"/customers/{holder}", f"/customers/{holder}/statement?{period}"):
        page = client.get(url, headers={"Accept-Language": accept}).get_data(as_text=True)
        text = re.sub(r"<[^>]+>", " ", page).replace("\u202f", " ").replace("\xa0", " ").replace("&#39;", "'")
        for name in shown:
            assert name in text, (url, name)
    pdf = client.get(f"/customers/{holder}/statement.pdf?{period}", headers={"Accept-Language": accept})
    pages, text = pdf_text(pdf.get_data())
    for name in shown:
        assert name in text, ("PDF", name, text)
