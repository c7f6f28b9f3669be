"""Segments on the known data set: filters, counts, and a CSV export that honours consent."""
from __future__ import annotations

import csv
import io

import pytest

from server.analytics import aggregate
from server.analytics.segments import SegmentSpec, counts, export_csv, members
from server.deskdb import open_db
from server.errors import ServerError

from ...fixtures.headoffice import CARDS, END, START, build_known_set, register_customers


@pytest.fixture
def conn(tmp_path):
    path = tmp_path / "server.db"
    build_known_set(path)
    db = open_db(path)
    db.row_factory = None
    register_customers(db)
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
        "customer:1", "customer:2", CARDS["I"], CARDS["J"]]
    assert keys(members(conn, SegmentSpec(start=START, end=END, ranks=["below zero"]))) == ["customer:3"]
    assert keys(members(conn, SegmentSpec(start=START, end=END, store="S001"))) == ["customer:1", "customer:2"]
    assert len(members(conn, SegmentSpec(start=START, end=END, category="fresh"))) == 10
    assert members(conn, SegmentSpec(start=START, end=END, category="drinks")) == []
    assert keys(members(conn, SegmentSpec(start=START, end=END, consent="profiling"))) == ["customer:1", "customer:2"]
    first = members(conn, SegmentSpec(start=START, end=END, min_m=5))[0]
    assert (first.customer_id, first.cards, first.rfm, first.rank, first.main_store) == (
        1, [CARDS["A"]], "555", "top decile", "S001")


def test_counts(conn):
    assert counts(conn, SegmentSpec(start=START, end=END, min_m=5)) == {
        "customers": 2, "cards": 2, "spend_cents": 80000, "contactable": {"email": 1, "sms": 1}}


def test_export_honours_consent(conn):
    everyone = SegmentSpec(start=START, end=END)
    text, written, left_out = export_csv(conn, everyone, "email")
    rows = list(csv.reader(io.StringIO(text)))
    assert (written, left_out) == (1, 9)
    assert rows == [["customer_id", "name", "email", "cards", "spend_cents", "rfm", "value_rank"],
                    ["1", "Customer A", "a@example.org", CARDS["A"], "70000", "555", "top decile"]]
    text, written, left_out = export_csv(conn, everyone, "sms")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][2] == "phone" and rows[1][:3] == ["2", "Customer B", "+33 6 00 00 00 02"]
    assert "b@example.org" not in text and (written, left_out) == (1, 9)
    with pytest.raises(ServerError) as refused:
        export_csv(conn, everyone, "post")
    assert str(refused.value) == "no channel 'post': export for one of email, sms"
