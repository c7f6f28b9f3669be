"""What head office should look into, in one list per kind: offline overdrafts, a card used in several stores
within an hour, loyalty cheques spent twice, returns whose original ticket head office does not hold, tills and
cashiers with many cancellations. Every row names the tickets to open (cancellations: the explorer's filter).

A row's text is an English message marked with `N_()` and its parameters: `Row.what` is the English text
(operators, logs; money as `5.00 EUR`), `Row.shown()` the text in the reader's language (money through
`format_money`); a section's title and explanation are `N_()` messages the page translates.

The kinds are `Section`s in SECTIONS, in the order the exceptions page shows them; another kind joins with
`register()`; the NF525 journal's cancellations per till or cashier are one of them. A section reads the
transactional store, SQLite or PostgreSQL, and returns rows; none writes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from programme.cardnumber import mask_card_number
from programme.i18n import N_, _, format_money
from programme.money import format_cents

from server.storage.sql import within_hours

MAX_ROWS = 200  # per section: the page lists the newest


@dataclass(frozen=True)
class Row:
    when: str  # ISO UTC, or "" when the kind has no time of its own
    message: str  # English, marked with N_(), %(name)s placeholders filled from params
    params: dict = field(default_factory=dict)  # "cents": an amount of money in cents
    tickets: list[str] = field(default_factory=list)

    @property
    def what(self) -> str:
        """The row in English, for operators: money as `5.00 EUR`."""
        return self.message % {k: f"{format_cents(v)} EUR" if k == "cents" else v for k, v in self.params.items()}

    def shown(self) -> str:
        """The row in the current language: money as `5,00 €`."""
        return _(self.message) % {k: format_money(v) if k == "cents" else v for k, v in self.params.items()}


@dataclass(frozen=True)
class Section:
    id: str  # the HTML id of its table
    title: str  # N_(): the page translates it
    explanation: str  # N_(), %(name)s placeholders filled from params
    rows: Callable[..., list[Row]]  # (conn, since: datetime) -> rows, newest first
    params: dict = field(default_factory=dict)


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
        Row(
            o["detected_at"],
            N_("card %(card)s overdrawn: balance %(balance)s points"),
            {"card": o["card"], "balance": o["balance"]},
            o["tickets"],
        )
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
        Row(
            _iso(b_at),
            N_("card %(card)s in store %(first)s then %(second)s within an hour"),
            {"card": mask_card_number(card), "first": a_store, "second": b_store},
            [a_id, b_id],
        )
        for card, a_id, a_store, _, b_id, b_store, b_at in rows
    ]


def cheques_spent_twice(conn, since: datetime) -> list[Row]:
    from ..desk.cheque_book import spent_twice

    return [
        Row(
            item["last"],
            N_("cheque %(serial)s (%(cents)s) spent %(count)s times"),  # at least twice
            {"serial": item["serial"], "cents": item["cents"], "count": len(item["tickets"])},
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
        Row(_iso(at), N_("return of %(ticket)s, which head office does not hold"), {"ticket": original}, [return_id])
        for return_id, original, at in rows
    ]


register(
    Section(
        "overdrafts",
        N_("Offline overdrafts"),
        N_("Cards whose balance went below zero when the tickets of tills offline arrived."),
        overdrafts,
    )
)
register(
    Section(
        "several-stores",
        N_("One card in several stores within an hour"),
        N_("Tickets of the same card in two stores less than an hour apart: a copied or shared card?"),
        several_stores,
    )
)
register(
    Section(
        "cheques-twice",
        N_("Loyalty cheques spent twice"),
        N_("A cheque taken by more than one ticket (tills offline, or a copy)."),
        cheques_spent_twice,
    )
)
register(
    Section(
        "returns-without-original",
        N_("Returns without the original ticket"),
        N_("Returns naming a ticket head office does not hold."),
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
            N_("till %(till)s (store %(store)s): %(count)s cancellations, %(cents)s"),  # at least the threshold
            {"till": r["terminal"], "store": r["store"], "count": r["count"], "cents": int(r["cents"])},
        )
        for r in found["tills"]
    ]
    rows += [
        Row(
            "",
            N_("cashier %(cashier)s at till %(till)s: %(count)s cancellations, %(cents)s"),
            {"cashier": r["cashier"], "till": r["terminal"], "count": r["count"], "cents": int(r["cents"])},
        )
        for r in found["cashiers"]
    ]
    return rows[:MAX_ROWS]


register(
    Section(
        "cancellations",
        N_("Many cancellations at one till or by one cashier"),
        N_(
            "At least %(threshold)s cancelled tickets and line voids over the period; the ticket explorer's "
            "Show filter lists them."
        ),
        many_cancellations,
        {"threshold": CANCELLATION_THRESHOLD},
    )
)


def exceptions(conn, now: datetime | None = None, days: int = 30) -> list[tuple[Section, list[Row]]]:
    """Every section with its rows of the last `days` days."""
    since = (now or datetime.now(timezone.utc)) - timedelta(days=days)
    return [(section, section.rows(conn, since)) for section in SECTIONS]
