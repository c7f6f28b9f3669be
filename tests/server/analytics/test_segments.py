"""Segments on the known data set: filters, counts, and a CSV export that honours consent (SQLite, PostgreSQL)."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timezone

import msgspec
import pytest

from programme.ticket import Tender, make_line
from server.analytics import aggregate
from server.analytics.segments import SegmentSpec, counts, export_csv, members, tier_names
from server.storage.desk_db import open_db
from server.errors import ServerError

from ...fixtures.headoffice import CARDS, END, START, known_set_with_customers, known_tickets, store_tickets


@pytest.fixture
def conn(office_target):
    db = known_set_with_customers(office_target)
    aggregate.refresh(db)
    yield db
    db.close()


def keys(found) -> list[str]:
    return [m.key for m in found]


def test_filters(conn):
    everyone = SegmentSpec(start=START, end=END)
    assert len(members(conn, everyone)) == 10
    assert keys(members(conn, SegmentSpec(start=START, end=END, min_m=5))) == ["customer:1", "customer:2"]
    assert keys(members(conn, SegmentSpec(start=START, end=END, min_r=4))) == [
        "customer:1",
        "customer:2",
        CARDS["I"],
        CARDS["J"],
    ]
    assert keys(members(conn, SegmentSpec(start=START, end=END, ranks=["below zero"]))) == ["customer:3"]
    assert keys(members(conn, SegmentSpec(start=START, end=END, store="S001"))) == ["customer:1", "customer:2"]
    assert len(members(conn, SegmentSpec(start=START, end=END, category="fresh"))) == 10
    assert members(conn, SegmentSpec(start=START, end=END, category="drinks")) == []
    assert keys(members(conn, SegmentSpec(start=START, end=END, consent="profiling"))) == ["customer:1", "customer:2"]
    first = members(conn, SegmentSpec(start=START, end=END, min_m=5))[0]
    assert (first.customer_id, first.cards, first.rfm, first.rank, first.main_store) == (
        1,
        [CARDS["A"]],
        "555",
        "top decile",
        "S001",
    )


def test_counts(conn):
    assert counts(conn, SegmentSpec(start=START, end=END, min_m=5)) == {
        "customers": 2,
        "cards": 2,
        "spend_cents": 80000,
        "contactable": {"email": 1, "sms": 1},
    }


def test_export_honours_consent(conn):
    everyone = SegmentSpec(start=START, end=END)
    text, written, left_out = export_csv(conn, everyone, "email")
    rows = list(csv.reader(io.StringIO(text)))
    assert (written, left_out) == (1, 9)
    assert rows == [
        ["customer_id", "name", "email", "cards", "spend_cents", "rfm", "value_rank"],
        ["1", "Customer A", "a@example.org", CARDS["A"], "70000", "555", "top decile"],
    ]
    text, written, left_out = export_csv(conn, everyone, "sms")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][2] == "phone" and rows[1][:3] == ["2", "Customer B", "+33 6 00 00 00 02"]
    assert "b@example.org" not in text and (written, left_out) == (1, 9)
    with pytest.raises(ServerError) as refused:
        export_csv(conn, everyone, "post")
    assert str(refused.value) == "no channel 'post': export for one of email, sms"


def test_tier_from_the_twelve_month_spend(office_target):
    path = office_target
    tickets = known_tickets()
    b = next(t for t in tickets if t.card == CARDS["B"])
    closed = datetime(2025, 12, 20, 10, 0, tzinfo=timezone.utc)  # B spent 1,400 EUR before Christmas
    big = msgspec.structs.replace(
        b,
        id="S003-T01-00000001",
        terminal="S003-T01",
        seq=1,
        store="S003",
        opened_at=closed,
        closed_at=closed,
        total_cents=140000,
        points=[],
        lines=[make_line("3228857000906", 1, 140000, category="fresh")],
        tenders=[Tender(kind="cash", cents=140000)],
    )
    store_tickets(path, [*tickets, big])
    db = open_db(path)
    aggregate.refresh(db)
    assert tier_names() == ["none", "silver", "gold"]
    assert keys(members(db, SegmentSpec(start=START, end=END, tier="silver"))) == [CARDS["B"]]  # 1,500 EUR
    assert len(members(db, SegmentSpec(start=START, end=END, tier="none"))) == 9
    assert members(db, SegmentSpec(start=START, end=END, tier="gold")) == []
    assert members(db, SegmentSpec(start=START, end=END, tier="silver"))[0].tier == "silver"
    db.close()
