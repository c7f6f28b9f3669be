"""A campaign's value is capped per kind (docs/desk.md): head office cannot hand out 999,999,999,999 points
by mistake or on purpose; the library refuses it and the page says the maximum. SQLite and PostgreSQL."""

from __future__ import annotations

import html

import pytest

from server.analytics import aggregate, campaigns
from server.analytics.campaigns import Campaign
from server.analytics.segments import SegmentSpec
from server.storage.connection import has_table
from server.storage.desk_db import open_db
from server.errors import ServerError

from ..fixtures.desk import error_of
from ..fixtures.headoffice import END, START

FORM = dict(
    name="Big", starts="2026-01-01", ends="2026-12-31", start="2026-01-01", end="2026-01-31", control_percent="10"
)


def stored(office) -> int:
    return office.count("campaigns") if has_table(office.conn, "campaigns") else 0


@pytest.mark.parametrize(
    "kind,field,value,message",
    [
        (
            "bonus_points",
            "points",
            999_999_999_999,
            "a bonus points offer gives at most 10000 points: give fewer (a bigger gift is a desk adjustment)",
        ),
        (
            "bonus_points",
            "points",
            10_001,
            "a bonus points offer gives at most 10000 points: give fewer (a bigger gift is a desk adjustment)",
        ),
        ("cheque", "cheque_cents", 10_001, "a cheque offer is worth at most 100.00 EUR: give a smaller value"),
    ],
)
def test_the_library_refuses_a_value_past_the_cap(office, kind, field, value, message):
    conn = open_db(office.db_path)
    conn.row_factory = None  # as the analytics read rows (tests/server/analytics/test_campaigns.py)
    aggregate.refresh(conn)
    with pytest.raises(ServerError) as refused:
        campaigns.create(
            conn,
            Campaign(
                name="Big",
                segment=SegmentSpec(start=START, end=END),
                kind=kind,
                starts=START,
                ends=END,
                **{field: value},
            ),
        )
    assert str(refused.value) == message
    conn.close()
    assert stored(office) == 0


def test_the_page_says_the_cap_and_takes_the_maximum(office):
    client = office.client("head_office")
    response = office.post(client, "/office/campaigns", kind="bonus_points", value="10001", **FORM)
    assert response.status_code == 400
    assert html.unescape(error_of(response)) == (
        "a bonus points offer gives at most 10000 points: give fewer (a bigger gift is a desk adjustment)"
    )
    response = office.post(client, "/office/campaigns", kind="cheque", value="101", **FORM)
    assert error_of(response) == "a cheque offer is worth at most 100.00 EUR: give a smaller value"
    assert stored(office) == 0
    response = office.post(client, "/office/campaigns", kind="bonus_points", value="10000", **FORM)
    assert response.status_code == 302, error_of(response)
    response = office.post(client, "/office/campaigns", kind="cheque", value="100", **FORM)
    assert response.status_code == 302, error_of(response)
    found = sorted((c["points"], c["cheque_cents"]) for c in campaigns.list_campaigns(office.conn))
    assert found == [(0, 10_000), (10_000, 0)]
