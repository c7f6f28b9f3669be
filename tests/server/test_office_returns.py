"""The ticket page says what a return takes back, and what was returned of an original, at every till
(on SQLite and on PostgreSQL)."""

import html

import pytest

from server.ingest.receive import classify
from server.ingest.store_api import open_store

from ..fixtures.desk import both_engines  # noqa: F401 - fixtures
from .test_returned_lines import message, returns_at_two_tills  # noqa: F401 - fixture
from .test_store import NOW

pytestmark = pytest.mark.usefixtures("english")  # written when the pages spoke only English


def test_the_ticket_page_links_a_return_and_its_original(desk, returns_at_two_tills):  # noqa: F811
    sale, at_a, at_b = returns_at_two_tills
    store = open_store(desk.db_path)
    try:
        store.ingest(*classify([message(sale), message(at_a), message(at_b)]), NOW)
    finally:
        store.close()
    client = desk.client("head_office")
    original = html.unescape(client.get(f"/office/tickets/{sale.id}").get_data(as_text=True))
    assert (
        '<p id="returned">returned: line 1 x2 by <a class="mono" href="/office/tickets/S001-T01-00000002">'
        'S001-T01-00000002</a><br>returned: line 1 x2 by <a class="mono" href="/office/tickets/S002-T01-00000001">'
        "S002-T01-00000001</a></p>"
    ) in original
    back = html.unescape(client.get(f"/office/tickets/{at_b.id}").get_data(as_text=True))
    assert (
        '<p id="return-of">return of <a class="mono" href="/office/tickets/S001-T01-00000001">S001-T01-00000001'
        "</a>: line 1 x2</p>"
    ) in back
    assert "line 1 of S001-T01-00000001 returned beyond what was sold: 4 of 2 returned" in back  # its flag
    assert 'id="returned"' not in back and 'id="return-of"' not in original
