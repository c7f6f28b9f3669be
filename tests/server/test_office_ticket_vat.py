"""The head-office ticket page shows the ticket's VAT table per rate, the receipt's (on SQLite and PostgreSQL)."""

import re

from programme.ticket import make_line
from server.ingest.receive import classify
from server.ingest.store_api import open_store
from sync.codec import encode_ticket
from sync.topics import tickets as tickets_topic
from terminal.journal import Journal
from terminal.sale import sell

from ..fixtures.desk import both_engines, text  # noqa: F401 - fixtures
from .test_store import NOW


def test_the_ticket_page_shows_the_vat_table_of_the_receipt(desk, tmp_path):
    with Journal(tmp_path / "till.db", "S001-T01") as journal:
        ticket = sell(
            journal,
            [
                make_line("3017620422003", 300, 399, label="Nutella", vat_rate=550),
                make_line("5000112637922", 1, 11999, "electronics", "Casque", vat_rate=2000),
                make_line("96385074", 1, 280, "press", "Quotidien", vat_rate=210),
            ],
        )
    store = open_store(desk.db_path)
    try:
        store.ingest(*classify([(tickets_topic("S001-T01"), encode_ticket(ticket))]), NOW)
    finally:
        store.close()
    page = text(desk.client("head_office").get(f"/office/tickets/{ticket.id}"))
    table = re.search(r'<table class="lines" id="vat">.*?</table>', page, re.S).group(0)
    rows = [re.findall(r"<td[^>]*>(.*?)</td>", row) for row in re.findall(r"<tr[^>]*>(.*?)</tr>", table)][1:]
    assert rows == [  # amounts in French, as head office reads them (the table's words are not translated yet)
        ["20 %", "99,99\u00a0€", "20,00\u00a0€", "119,99\u00a0€"],
        ["5,5 %", "1\u202f134,60\u00a0€", "62,40\u00a0€", "1\u202f197,00\u00a0€"],
        ["2,1 %", "2,74\u00a0€", "0,06\u00a0€", "2,80\u00a0€"],
        ["Total", "1\u202f237,33\u00a0€", "82,46\u00a0€", "1\u202f319,79\u00a0€"],
    ]
