"""GDPR: export (JSON, CSV with ticket lines and GTINs), erasure under a pseudonym, the retention job."""

import csv
import io
import json
from datetime import datetime, timedelta, timezone

import pytest
from click.testing import CliRunner

from loyalty.cli import main
from server.desk import cards, customers, gdpr

from ..fixtures.desk import (  # noqa: F401 - fixtures; both_engines: each test on SQLite and PostgreSQL
    CARD_A,
    ENROL,
    both_engines,
    error_of,
    sell_anonymously,
)

pytestmark = pytest.mark.usefixtures("english")  # written when the pages spoke only English


def _holder(desk):
    sell_anonymously(desk.db_path, CARD_A, 2)
    customer_id = customers.enrol(desk.conn, ENROL, "seed")
    cards.issue(desk.conn, customer_id, CARD_A, "seed")
    return customer_id


def test_export_json_and_csv_hold_everything_with_ticket_lines(desk):
    customer_id = _holder(desk)
    client = desk.client("card_manager")
    response = client.get(f"/customers/{customer_id}/export.json")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == f"attachment; filename=customer-{customer_id}.json"
    data = json.loads(response.get_data())
    assert data["customer"]["email"] == ENROL["email"] and data["cards"][0]["number"] == CARD_A
    assert len(data["tickets"]) == 2 and data["tickets"][0]["lines"][0]["gtin"] == "3017620422003"
    assert sum(e["points"] for e in data["ledger"]) == 24
    with desk.conn:  # a promotion on the spread, and the VAT rates the lines were sold at
        desk.conn.execute("UPDATE lines SET discount_cents = 50, vat_rate = 550 WHERE gtin = '3017620422003'")
        desk.conn.execute("UPDATE lines SET vat_rate = 550 WHERE gtin = '3228857000906'")
    rows = list(csv.DictReader(io.StringIO(client.get(f"/customers/{customer_id}/export.csv").get_data(True))))
    lines = [r for r in rows if r["record"] == "ticket_line"]
    assert len(lines) == 4 and {r["gtin"] for r in lines} == {"3017620422003", "3228857000906"}
    # portability: each line's promotion amount and VAT rate go with it
    assert {(r["gtin"], r["discount_cents"], r["vat_rate"]) for r in lines} == {
        ("3017620422003", "50", "550"),
        ("3228857000906", "0", "550"),
    }
    assert {r["field"]: r["value"] for r in rows if r["record"] == "customer"}["name"] == "Marie Curie"
    assert [a["action"] for a in customers.view(desk.conn, customer_id)["audit"]][:2] == ["export", "export"]


def test_erase_removes_personal_data_and_keeps_tickets_and_points(desk):
    customer_id = _holder(desk)
    customers.update(desk.conn, customer_id, {**ENROL, "postcode": "75006"}, "seed")
    points_before = desk.conn.execute("SELECT sum(points) FROM ledger").fetchone()[0]
    client = desk.client("card_manager")
    response = desk.post(client, f"/customers/{customer_id}/erase", confirm="yes")
    assert response.status_code == 400 and error_of(response) == "type erase in the box to confirm the erasure"
    assert customers.get(desk.conn, customer_id)["erased_at"] is None
    response = desk.post(client, f"/customers/{customer_id}/erase", confirm="erase")
    assert response.status_code == 302
    erased = customers.get(desk.conn, customer_id)
    assert erased["name"].startswith("erased-") and erased["erased_at"]
    assert [erased[f] for f in ("email", "phone", "postcode", "birth_date", "consent_email")] == [None] * 4 + [0]
    dump = json.dumps(gdpr.export(desk.conn, customer_id, "test"))
    for personal in ("Marie", "marie@example.org", "75005", "75006", "1967-11-07", "12 34 56"):
        assert personal not in dump, personal
    view = customers.view(desk.conn, customer_id)
    assert (view["ticket_count"], view["balance"]) == (2, 24)
    assert desk.conn.execute("SELECT sum(points) FROM ledger").fetchone()[0] == points_before
    response = desk.post(client, f"/customers/{customer_id}/erase", confirm="erase")
    assert response.status_code == 409
    assert error_of(response).startswith(f"customer {customer_id} was already erased on ")
    response = desk.post(client, f"/customers/{customer_id}/edit", **ENROL)
    assert error_of(response) == f"customer {customer_id} was erased: an erased customer cannot be edited"


def test_retention_dry_run_reports_and_the_real_run_anonymises(desk):
    active = _holder(desk)
    sleeping = customers.enrol(desk.conn, {**ENROL, "name": "Old Timer"}, "seed")
    in_four_years = datetime.now(timezone.utc) + timedelta(days=4 * 365)
    due = gdpr.retention(desk.conn, dry_run=True, now=in_four_years)
    assert [d["customer"] for d in due] == [active, sleeping]
    assert gdpr.retention(desk.conn, dry_run=True) == []

    result = CliRunner().invoke(main, ["server", "retention", "--db", desk.db_path, "--dry-run", "--years", "1"])
    assert result.exit_code == 0 and json.loads(result.output) == {"dry_run": True, "years": 1, "customers": []}
    desk.conn.execute(
        "UPDATE customers SET created_at = '2020-01-01T00:00:00+00:00', "
        "updated_at = '2020-01-01T00:00:00+00:00' WHERE id = ?",
        (sleeping,),
    )
    result = CliRunner().invoke(main, ["server", "retention", "--db", desk.db_path, "--dry-run"])
    report = json.loads(result.output)
    assert report["customers"] == [{"customer": sleeping, "last_activity": "2020-01-01T00:00:00+00:00"}]
    assert customers.get(desk.conn, sleeping)["erased_at"] is None
    result = CliRunner().invoke(main, ["server", "retention", "--db", desk.db_path])
    assert json.loads(result.output)["customers"][0]["pseudonym"].startswith("erased-")
    assert customers.get(desk.conn, sleeping)["erased_at"] and customers.get(desk.conn, active)["erased_at"] is None


def test_a_desk_edit_does_not_restart_the_retention_clock_but_a_purchase_or_a_request_does(desk):
    """CNIL: 3 years from the customer's last purchase or request, not from the desk touching the record."""
    quiet = customers.enrol(desk.conn, {**ENROL, "name": "Edited Lately"}, "seed")
    asked = customers.enrol(desk.conn, {**ENROL, "name": "Asked Lately"}, "seed")
    long_ago = "2020-01-01T00:00:00+00:00"
    with desk.conn:
        desk.conn.execute("UPDATE customers SET created_at = ?, updated_at = ?", (long_ago, long_ago))
        # a card manager fixed a typo last week: a desk edit, not the customer's doing
        desk.conn.execute(
            "UPDATE customers SET updated_at = ? WHERE id = ?", (datetime.now(timezone.utc).isoformat(), quiet)
        )
    gdpr.export(desk.conn, asked, "card-manager")  # the customer asked for their data: a request
    due = [d["customer"] for d in gdpr.retention(desk.conn, dry_run=True)]
    assert quiet in due and asked not in due
