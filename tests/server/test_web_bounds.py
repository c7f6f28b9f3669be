"""Out-of-range input from a URL or a form gets 400 and a message saying what to give, never a 500:
huge ids, far dates, amounts past any till's, huge page numbers; the API answers in JSON. Both engines."""

from __future__ import annotations

import html

import pytest

from ..fixtures.desk import ENROL, error_of
from ..fixtures.headoffice import CARDS

pytestmark = pytest.mark.usefixtures("english")  # written when the pages spoke only English

BIG = "9" * 25
MAX_ID = 2**63 - 1  # the largest id either engine stores
IDS = f"give a number from 1 to {MAX_ID}"
DAYS = "give a day from 1900-01-01 to 2999-12-31"
CAMPAIGN = dict(
    name="x",
    kind="bonus_points",
    value="5",
    starts="2026-01-01",
    ends="2026-12-31",
    start="2026-01-01",
    end="2026-01-31",
    control_percent="10",
)


PAGES = [
    (f"/customers/{BIG}", f"customer {BIG} is out of range: {IDS}"),
    (f"/customers/{MAX_ID + 1}/statement", f"customer {MAX_ID + 1} is out of range: {IDS}"),
    (f"/customers/{BIG}/export.json", f"customer {BIG} is out of range: {IDS}"),
    ("/customers/1/statement?end=9999-12-31", f"end 9999-12-31 is out of range: {DAYS}"),
    ("/customers/1/statement.pdf?start=0001-01-01", f"start 0001-01-01 is out of range: {DAYS}"),
    ("/customers?q=" + "x" * 201, "a search is at most 200 characters: shorten it"),
    ("/office/tickets?min=1e400", "min '1e400' is not an amount: write euros like 12.50"),
    ("/office/tickets?max=inf", "max 'inf' is not an amount: write euros like 12.50"),
    ("/office/tickets?min=1000000000000", "min 1000000000000 is out of range: at most 1000000000 euros either way"),
    ("/office/tickets?min=12.505", "min '12.505' is not an amount: write euros like 12.50"),
    (f"/office/tickets?page={BIG}", f"page {BIG} is out of range: give a number from 1 to 100000"),
    (f"/office/tickets?customer={BIG}", f"customer {BIG} is out of range: {IDS}"),
    ("/office/tickets?start=9999-12-31", f"start 9999-12-31 is out of range: {DAYS}"),
    ("/office/tickets.csv?min=1e400", "min '1e400' is not an amount: write euros like 12.50"),
    ("/office/value?end=9999-12-31", f"end 9999-12-31 is out of range: {DAYS}"),
    ("/office/value?start=0001-01-01", f"start 0001-01-01 is out of range: {DAYS}"),
    ("/office/segments?start=0001-01-01&end=2026-01-31", f"start 0001-01-01 is out of range: {DAYS}"),
    (f"/office/campaigns/{BIG}", f"campaign {BIG} is out of range: {IDS}"),
]
FORMS = [
    ("/customers/1/merge", {"other": BIG}, f"customer number {BIG} is out of range: {IDS}"),
    ("/customers/new", {**ENROL, "birth_date": "0001-01-01"}, f"birth date 0001-01-01 is out of range: {DAYS}"),
    ("/customers/1/edit", {**ENROL, "birth_date": "1066-10-14"}, f"birth date 1066-10-14 is out of range: {DAYS}"),
    (f"/office/dead-letters/{BIG}/replay", {}, f"dead letter {BIG} is out of range: {IDS}"),
    (f"/office/campaigns/{BIG}/stop", {}, f"campaign {BIG} is out of range: {IDS}"),
    (
        "/office/campaigns",
        {**CAMPAIGN, "value": str(10**23)},
        "value 100000000000000000000000 is out of range: give a number from 1 to 1000000000",
    ),
    ("/office/campaigns", {**CAMPAIGN, "seed": BIG}, f"seed {BIG} is out of range: give a number from 0 to 2147483647"),
    (
        "/office/campaigns",
        {**CAMPAIGN, "control_percent": "100"},
        "control percent 100 is out of range: give a number from 1 to 99",
    ),
    ("/office/campaigns", {**CAMPAIGN, "ends": "9999-12-31"}, f"ends 9999-12-31 is out of range: {DAYS}"),
    ("/office/campaigns", {**CAMPAIGN, "start": "0001-01-01"}, f"start 0001-01-01 is out of range: {DAYS}"),
]


def test_pages_answer_400_with_what_to_give(office):
    client = office.client("admin")
    for url, message in PAGES:
        response = client.get(url)
        assert (response.status_code, error_of(response)) == (400, message), url


def written(office) -> tuple:
    from server.storage.connection import has_table

    return (
        office.count("audit"),
        office.count("customers"),
        office.conn.execute("SELECT birth_date FROM customers WHERE id = 1").fetchone()[0],
        office.count("campaigns") if has_table(office.conn, "campaigns") else 0,
    )


def test_forms_answer_400_and_write_nothing(office):
    client = office.client("admin")
    for url, data, message in FORMS:
        before = written(office)
        response = office.post(client, url, **data)
        assert (response.status_code, html.unescape(error_of(response))) == (400, message), url
        assert written(office) == before


def test_api_errors_are_json(office):
    from server.desk import accounts

    client = office.app.test_client()
    bearer = {"Authorization": f"Bearer {accounts.create_token(office.conn, 'admin')}"}
    for url, status, message in [
        (f"/api/v1/customers/{BIG}", 400, f"customer {BIG} is out of range: {IDS}"),
        (
            f"/api/v1/customers/{BIG}/statement?start=2026-01-01&end=2026-01-02",
            400,
            f"customer {BIG} is out of range: {IDS}",
        ),
        (
            "/api/v1/customers/1/statement?start=2026-01-01&end=9999-12-31",
            400,
            f"end 9999-12-31 is out of range: {DAYS}",
        ),
        ("/api/v1/customers?q=" + "x" * 201, 400, "a search is at most 200 characters: shorten it"),
        ("/api/v1/nothing", 404, "no API endpoint /api/v1/nothing: see docs/api.md for the endpoints"),
        (f"/api/v1/cards/{CARDS['A']}x", 404, f"card {CARDS['A']}x is not registered: issue it to a customer first"),
    ]:
        response = client.get(url, headers=bearer)
        assert (response.status_code, response.json) == (status, {"error": message}), url
    response = client.post("/api/v1/hotlist", headers=bearer)
    assert (response.status_code, response.json) == (405, {"error": "POST is not allowed on /api/v1/hotlist: use GET"})
