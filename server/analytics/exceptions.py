"""What head office should look into, in one list per kind: offline overdrafts, a card used in several stores
within an hour, loyalty cheques spent twice, returns whose original ticket head office does not hold, tills and
cashiers with many cancellations. Every row names the tickets to open (cancellations: the explorer's filter).

The kinds are `Section`s in SECTIONS, in the order the exceptions page shows them; another kind joins with
`register()`; the NF525 journal's cancellations per till or cashier are one of them. A section reads the
transactional store, SQLite or PostgreSQL, and returns rows; none writes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from programme.cardnumber import mask_card_number
from programme.money import format_cents

from server.storage.sql import within_hours

MAX_ROWS = 200  # per section: the page lists the newest


@dataclass(frozen=True)
class Row:
    when: str  # ISO UTC, or "" when the kind has no time of its own
    what: str
    tickets: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Section:
    id: str  # the HTML id of its table
    title: str
    explanation: str
    rows: Callable[..., list[Row]]  # (conn, since: datetime) -> rows, newest first


SECTIONS: list[Section] = []


def register(section: Section) -> Section:
    """Add a kind of exception to the page (replacing one of the same id)."""
    SECTIONS[:] = [s for s in SECTIONS if s.id != section.id] + [section]
    return section


def _iso(value) -> str:
    return value.astimezone(timezone.utc).isoformat() if isinstance(value, datetime) else str(value)


def overdrafts(conn, since: datetime) -> list[Row]:
    from server.ingest import overdraft

    return [
        Row(o["detected_at"], f"card {o['card']} overdrawn: balance {o['balance']} points", o["tickets"])
        for o in overdraft.recent(conn, MAX_ROWS)
        if o["detected_at"] >= since.isoformat()
    ]


MANY_STORES_WINDOW = timedelta(hours=1)


def several_stores(conn, since: datetime) -> list[Row]:
    """Pairs of tickets of one card in two stores less than an hour apart (a copied card, a shared one)."""
    near = f"b.closed_at > a.closed_at AND {within_hours(conn, 'b.closed_at', 'a.closed_at', 1)}"
    rows = conn.execute(
        f"SELECT a.card, a.id, a.store, a.closed_at, b.id, b.store, b.closed_at FROM tickets a JOIN tickets b "
        f"ON b.card = a.card AND b.store <> a.store AND {near} "
        f"WHERE a.card IS NOT NULL AND a.closed_at >= ? ORDER BY b.closed_at DESC LIMIT ?",
        (since.isoformat(), MAX_ROWS),
    ).fetchall()
    return [
        Row(_iso(b_at), f"card {mask_card_number(card)} in store {a_store} then {b_store} within an hour", [a_id, b_id])
        for card, a_id, a_store, _, b_id, b_store, b_at in rows
    ]


def cheques_spent_twice(conn, since: datetime) -> list[Row]:
    from ..desk.cheque_book import spent_twice

    return [
        Row(
            item["last"],
            f"cheque {item['serial']} ({format_cents(item['cents'])} EUR) spent {len(item['tickets'])} times",
            item["tickets"],
        )
        for item in spent_twice(conn, MAX_ROWS)
        if item["last"] >= since.isoformat()
    ]


def returns_without_original(conn, since: datetime) -> list[Row]:
    """Returns linked to a ticket head office does not hold (yet): nothing shows what was sold."""
    rows = conn.execute(
        "SELECT DISTINCT r.return_id, r.original_id, t.closed_at FROM returned_lines r "
        "JOIN tickets t ON t.id = r.return_id WHERE t.closed_at >= ? AND NOT EXISTS "
        "(SELECT 1 FROM tickets o WHERE o.id = r.original_id) ORDER BY t.closed_at DESC LIMIT ?",
        (since.isoformat(), MAX_ROWS),
    ).fetchall()
    return [
        Row(_iso(at), f"return of {original}, which head office does not hold", [return_id])
        for return_id, original, at in rows
    ]


register(
    Section(
        "overdrafts",
        "Offline overdrafts",
        "Cards whose balance went below zero when the tickets of tills offline arrived.",
        overdrafts,
    )
)
register(
    Section(
        "several-stores",
        "One card in several stores within an hour",
        "Tickets of the same card in two stores less than an hour apart: a copied or shared card?",
        several_stores,
    )
)
register(
    Section(
        "cheques-twice",
        "Loyalty cheques spent twice",
        "A cheque taken by more than one ticket (tills offline, or a copy).",
        cheques_spent_twice,
    )
)
register(
    Section(
        "returns-without-original",
        "Returns without the original ticket",
        "Returns naming a ticket head office does not hold.",
        returns_without_original,
    )
)
CANCELLATION_THRESHOLD = 10  # cancelled tickets and line voids over the period, per till or per cashier


def many_cancellations(conn, since: datetime) -> list[Row]:
    """Tills and cashiers with many cancellations (the tills' NF525 journal events, server.ingest.till_events)."""
    from programme.i18n import local_time

    from server.ingest.till_events import cancellations

    found = cancellations(
        conn, local_time(since).date(), local_time(datetime.now(timezone.utc)).date(), CANCELLATION_THRESHOLD
    )
    rows = [
        Row(
            "",
            f"till {r['terminal']} (store {r['store']}): {r['count']} cancellations, "
            f"{format_cents(int(r['cents']))} EUR",
            [],
        )
        for r in found["tills"]
    ]
    rows += [
        Row(
            "",
            f"cashier {r['cashier']} at till {r['terminal']}: {r['count']} cancellations, "
            f"{format_cents(int(r['cents']))} EUR",
            [],
        )
        for r in found["cashiers"]
    ]
    return rows[:MAX_ROWS]


register(
    Section(
        "cancellations",
        "Many cancellations at one till or by one cashier",
        f"At least {CANCELLATION_THRESHOLD} cancelled tickets and line voids over the period; the ticket "
        "explorer's Show filter lists them.",
        many_cancellations,
    )
)


def exceptions(conn, now: datetime | None = None, days: int = 30) -> list[tuple[Section, list[Row]]]:
    """Every section with its rows of the last `days` days."""
    since = (now or datetime.now(timezone.utc)) - timedelta(days=days)
    return [(section, section.rows(conn, since)) for section in SECTIONS]
