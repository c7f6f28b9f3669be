"""GDPR (CNIL loyalty guidelines): a customer's data export, erasure under a pseudonym, the retention job.

Erasure removes personal data but keeps tickets and the ledger (tied to card numbers, which no longer
lead to a person), so the programme's totals and the points liability stay right.
"""

from __future__ import annotations

import io
import secrets
from datetime import datetime, timedelta, timezone

from server.desk import audit, csv_cells
from server.desk.customers import CONSENTS, FIELDS, card_numbers, get, ledger, tickets
from server.desk.errors import Conflict
from server.storage.desk_db import transaction, utc_now
from server.storage.connection import Connection

RETENTION_YEARS = 3
EXPORT_TICKETS = 100_000


def export(conn: Connection, customer_id: int, actor: str) -> dict:
    """Everything held about a customer: details, consents, cards, ledger, tickets with lines, audit."""
    customer = get(conn, customer_id)
    data = {
        "customer": customer,
        "cards": [dict(r) for r in conn.execute("SELECT * FROM cards WHERE customer_id = ?", (customer_id,))],
        "ledger": ledger(conn, customer_id, limit=EXPORT_TICKETS * 10),
        "tickets": tickets(conn, customer_id, limit=EXPORT_TICKETS),
        "audit": audit.for_customer(conn, customer_id),
        "exported_at": utc_now(),
    }
    with transaction(conn):
        audit.record(conn, actor, "export", customer_id=customer_id)
    return data


CSV_COLUMNS = [
    "record",
    "id",
    "at",
    "card",
    "field",
    "value",
    "gtin",
    "label",
    "category",
    "quantity",
    "unit_cents",
    "total_cents",
    "points",
    "discount_cents",  # added later: at the end, so the columns before keep their place
    "vat_rate",
]


def export_csv(data: dict) -> str:
    """The export as one CSV: a row per customer field, card, ledger entry and ticket line."""
    out = io.StringIO()
    writer = csv_cells.DictWriter(out, CSV_COLUMNS)  # formulas neutralised
    writer.writeheader()
    customer = data["customer"]
    for key, value in customer.items():
        writer.writerow({"record": "customer", "id": customer["id"], "field": key, "value": value})
    for card in data["cards"]:
        writer.writerow(
            {
                "record": "card",
                "id": card["number"],
                "at": card["issued_at"],
                "card": card["number"],
                "field": "status",
                "value": card["status"],
            }
        )
    for e in data["ledger"]:
        writer.writerow(
            {
                "record": "ledger",
                "id": e["id"],
                "at": e["at"],
                "card": e["card"],
                "field": e["kind"],
                "value": e["rule"],
                "points": e["points"],
            }
        )
    for t in data["tickets"]:
        for line in t["lines"]:
            writer.writerow(
                {
                    "record": "ticket_line",
                    "id": f"{t['id']}:{line['line_no']}",
                    "at": t["closed_at"],
                    "card": t["card"],
                    "field": t["store"],
                    "gtin": line["gtin"],
                    "label": line["label"],
                    "category": line["category"],
                    "quantity": line["quantity"],
                    "unit_cents": line["unit_cents"],
                    "discount_cents": line["discount_cents"],  # the promotion on the line
                    "total_cents": line["total_cents"],
                    "vat_rate": line["vat_rate"],
                }
            )
    return out.getvalue()


def _erase(conn: Connection, customer_id: int, actor: str, reason: str) -> str:
    pseudonym = f"erased-{secrets.token_hex(6)}"
    now = utc_now()
    sets = {f: None for f in FIELDS if f != "name"}
    sets.update({c: 0 for c in CONSENTS})
    sets.update({f"{c}_at": now for c in CONSENTS})
    sets.update(name=pseudonym, erased_at=now, updated_at=now)
    conn.execute(
        f"UPDATE customers SET {', '.join(f'{k} = ?' for k in sets)} WHERE id = ?", (*sets.values(), customer_id)
    )
    audit.scrub_customer(conn, customer_id)
    audit.record(conn, actor, "erase", customer_id=customer_id, reason=reason, detail={"pseudonym": pseudonym})
    return pseudonym


def erase(conn: Connection, customer_id: int, actor: str, reason: str = "erasure request") -> str:
    """Remove a customer's personal data; tickets and ledger stay under a pseudonym. Returns the pseudonym."""
    with transaction(conn):
        customer = get(conn, customer_id)
        if customer["erased_at"]:
            raise Conflict(f"customer {customer_id} was already erased on {customer['erased_at']}")
        return _erase(conn, customer_id, actor, reason)


# The customer's own requests, as the audit trail records them (CNIL: retention counts from the last purchase or
# request; a card manager editing the record is neither). The enrolment counts through created_at.
REQUESTS = ("export",)


def last_activity(conn: Connection, customer_id: int) -> str:
    """The latest of the customer's enrolment, purchases (tickets on one of its cards) and requests."""
    customer = get(conn, customer_id)
    numbers = card_numbers(conn, customer_id)
    dates = [customer["created_at"]]
    if numbers:
        marks = ", ".join("?" * len(numbers))
        dates.append(conn.execute(f"SELECT max(closed_at) FROM tickets WHERE card IN ({marks})", numbers).fetchone()[0])
    dates.append(
        conn.execute(
            f"SELECT max(at) FROM audit WHERE customer_id = ? AND action IN ({', '.join('?' * len(REQUESTS))})",
            (customer_id, *REQUESTS),
        ).fetchone()[0]
    )
    return max(str(d) for d in dates if d)


def retention(
    conn: Connection,
    dry_run: bool = True,
    years: int = RETENTION_YEARS,
    now: datetime | None = None,
    actor: str = "retention-job",
) -> list[dict]:
    """Customers with no activity for `years`: listed, and erased unless dry_run."""
    now = now or datetime.now(timezone.utc)
    cutoff = (now - timedelta(days=365 * years + years // 4)).isoformat()
    due = []
    for (customer_id,) in conn.execute(
        "SELECT id FROM customers WHERE erased_at IS NULL AND merged_into IS NULL ORDER BY id"
    ).fetchall():
        last = last_activity(conn, customer_id)
        if last < cutoff:
            due.append({"customer": customer_id, "last_activity": last})
    if not dry_run:
        with transaction(conn):
            for item in due:
                item["pseudonym"] = _erase(conn, item["customer"], actor, f"no activity for {years} years")
    return due
