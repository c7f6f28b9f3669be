"""The audit trail of desk actions: who did what, when, why, to which customer or card. Append-only."""

from __future__ import annotations

import json

from server.storage.desk_db import utc_now
from server.storage.connection import Connection


def record(
    conn: Connection,
    actor: str,
    action: str,
    *,
    customer_id: int | None = None,
    card: str | None = None,
    reason: str = "",
    detail: dict | None = None,
) -> int:
    """Append one entry inside the caller's transaction; returns its id (used in ledger causes)."""
    return conn.execute(
        "INSERT INTO audit (at, actor, action, customer_id, card, reason, detail) VALUES (?, ?, ?, ?, ?, ?, ?) "
        "RETURNING id",
        (utc_now(), actor, action, customer_id, card, reason, json.dumps(detail or {}, sort_keys=True)),
    ).fetchone()[0]


def for_customer(conn: Connection, customer_id: int) -> list[dict]:
    rows = conn.execute("SELECT * FROM audit WHERE customer_id = ? ORDER BY id DESC", (customer_id,))
    return [{**dict(r), "detail": json.loads(r["detail"])} for r in rows]


def scrub_customer(conn: Connection, customer_id: int) -> int:
    """Erasure: personal values in past entries' details are removed; who/when/what stay."""
    return conn.execute(
        "UPDATE audit SET detail = '{\"erased\": true}' WHERE customer_id = ? AND action IN ('enrol', 'edit')",
        (customer_id,),
    ).rowcount
