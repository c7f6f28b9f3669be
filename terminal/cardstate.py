"""What the till knows about a card: last balance heard from the server, local entries, hot-list.

The balance shown is the last server balance plus this till's entries the server cannot have
counted yet (closed after that balance, or not acked). It is "confirmed" only when a server
balance is known and the till is online; otherwise the screen marks it offline.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone

from programme.cardnumber import mask_card_number, validate_card_number
from programme.errors import CardNumberError
from programme.i18n import _

from .errors import CardRefused

SCHEMA = """
CREATE TABLE IF NOT EXISTS known_balances (
    card TEXT PRIMARY KEY,
    points INTEGER NOT NULL,
    as_of TEXT NOT NULL,
    first_name TEXT,
    as_of_seq INTEGER,
    tier TEXT
);
CREATE TABLE IF NOT EXISTS hotlist (
    card TEXT PRIMARY KEY,
    reason TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class CardBalance:
    card: str
    points: int  # what the cashier sees: known + local
    known_points: int | None  # last server balance, None when never heard
    local_points: int  # this till's entries the server has not counted
    as_of: str | None
    first_name: str | None
    confirmed: bool
    tier: str | None = None  # as head office last said (a balance asked on demand carries it)

    @property
    def masked(self) -> str:
        return mask_card_number(self.card)


def ensure_schema(conn: sqlite3.Connection) -> None:
    conn.executescript(SCHEMA)
    columns = {row[1] for row in conn.execute("PRAGMA table_info(known_balances)")}
    if "as_of_seq" not in columns:  # journals made before balances came with a sequence
        conn.execute("ALTER TABLE known_balances ADD COLUMN as_of_seq INTEGER")
    if "tier" not in columns:  # journals made before balances were asked on demand
        conn.execute("ALTER TABLE known_balances ADD COLUMN tier TEXT")


def _utc_iso(when: str | datetime) -> str:
    moment = datetime.fromisoformat(when) if isinstance(when, str) else when
    if moment.tzinfo is None:
        raise ValueError(f"time {when!r} has no UTC offset: times are UTC with offset")
    return moment.astimezone(timezone.utc).isoformat()


def remember_balance(
    conn: sqlite3.Connection,
    card: str,
    points: int,
    as_of: str | datetime,
    first_name: str | None = None,
    as_of_seq: int | None = None,
    tier: str | None = None,
) -> None:
    """Keep the server's balance for a card (called by the sync side when a balance arrives).

    `as_of_seq`: the highest sequence of this till whose tickets the balance includes. With it the
    till counts as its own only the entries of later tickets, whatever the clocks say.
    """
    as_of = _utc_iso(as_of)
    with conn:
        conn.execute(
            "INSERT INTO known_balances (card, points, as_of, first_name, as_of_seq, tier) VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT(card) DO UPDATE SET points = excluded.points, as_of = excluded.as_of, "
            "as_of_seq = excluded.as_of_seq, "
            "first_name = coalesce(excluded.first_name, known_balances.first_name), "
            "tier = coalesce(excluded.tier, known_balances.tier) "
            "WHERE excluded.as_of >= known_balances.as_of",
            (card, points, as_of, first_name, as_of_seq, tier),
        )


def replace_hotlist(conn: sqlite3.Connection, cards: Mapping[str, str] | Iterable[str]) -> int:
    """Replace the whole hot-list (card -> reason) at once, as received from the retained topic."""
    items = cards.items() if isinstance(cards, Mapping) else ((card, "blocked") for card in cards)
    rows = [(card, reason) for card, reason in items]
    with conn:
        conn.execute("DELETE FROM hotlist")
        conn.executemany("INSERT OR REPLACE INTO hotlist (card, reason) VALUES (?, ?)", rows)
    return len(rows)


def check_card(conn: sqlite3.Connection, number: str) -> str:
    """The card number if it may be used here; CardRefused says why not and what to do."""
    try:
        card = validate_card_number(number)
    except CardNumberError as exc:
        raise CardRefused(str(exc)) from None
    row = conn.execute("SELECT reason FROM hotlist WHERE card = ?", (card,)).fetchone()
    if row:
        raise CardRefused(
            _(
                "card blocked ({reason}): card {card} is on the hot-list; keep the card and send the "
                "customer to the welcome desk"
            ).format(reason=row[0], card=mask_card_number(card))
        )
    return card


def card_balance(conn: sqlite3.Connection, card: str, online: bool) -> CardBalance:
    known = conn.execute(
        "SELECT points, as_of, first_name, as_of_seq, tier FROM known_balances WHERE card = ?", (card,)
    ).fetchone()
    known_points, as_of, first_name, as_of_seq, tier = known if known else (None, None, None, None, None)
    if as_of_seq is not None:
        local = conn.execute(
            "SELECT coalesce(sum(l.points), 0) FROM ledger l JOIN tickets t ON t.id = l.ticket_id "
            "WHERE l.card = ? AND t.seq > ?",
            (card, as_of_seq),
        ).fetchone()[0]
    else:
        acked = conn.execute("SELECT value FROM sync_state WHERE key = 'acked_to'").fetchone()
        acked_to = int(acked[0]) if acked else 0
        local = conn.execute(
            "SELECT coalesce(sum(l.points), 0) FROM ledger l JOIN tickets t ON t.id = l.ticket_id "
            "WHERE l.card = ? AND (? IS NULL OR l.at > ? OR t.seq > ?)",
            (card, as_of, as_of, acked_to),
        ).fetchone()[0]
    return CardBalance(
        card=card,
        points=(known_points or 0) + local,
        known_points=known_points,
        local_points=local,
        as_of=as_of,
        first_name=first_name,
        confirmed=online and known is not None,
        tier=tier,
    )


def redeemed_today(conn: sqlite3.Connection, card: str, since: datetime) -> int:
    """Points this till redeemed on the card since `since`, the start of the store's day
    (programme.engine.day_start): the offline cap counts these."""
    return -conn.execute(
        "SELECT coalesce(sum(points), 0) FROM ledger WHERE card = ? AND kind = 'redeem' AND at >= ?",
        (card, since.astimezone(timezone.utc).isoformat()),
    ).fetchone()[0]
