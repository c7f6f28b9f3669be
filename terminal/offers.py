"""Head office's targeted offers, kept in the till's journal: replaced whole by each retained
message, looked up by card at the sale (an index hit on `offer_cards`).

A card's offers at a sale are the campaigns that list it, in force today (the day in the rules' time
zone, as the engine and the server date them: programme.engine.local_day) in this store, and
not used yet by the card at this till (no `offer:<campaign id>` entry in the ledger). Another till
may have seen the card use it: the server then flags the second use. An offer with a condition (a category,
a basket threshold: programme.campaign_offers) is shown to the cashier but applied only to a basket that meets
it (terminal/sale.py), and stays open for the card until then.
The message comes in head office's signed envelope (sync/signed.py): anything else is refused.
"""

from __future__ import annotations

import sqlite3
from datetime import date

from programme.campaign_offers import CampaignOffer, decode_offers, in_force

from sync.signed import SignatureError, Trust

from .errors import TillError
from .keys import hold, open_fresh

SCHEMA = """
CREATE TABLE IF NOT EXISTS offers (
    campaign INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    points INTEGER NOT NULL,
    cheque_cents INTEGER NOT NULL,
    starts TEXT NOT NULL,
    ends TEXT NOT NULL,
    stores TEXT NOT NULL,
    category TEXT NOT NULL DEFAULT '',
    min_basket_cents INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS offer_cards (
    card TEXT NOT NULL,
    campaign INTEGER NOT NULL,
    PRIMARY KEY (card, campaign)
) WITHOUT ROWID;
"""
_COLUMNS = "o.campaign, o.name, o.kind, o.points, o.cheque_cents, o.starts, o.ends, o.stores"
_CONDITIONS = (("category", "TEXT NOT NULL DEFAULT ''"), ("min_basket_cents", "INTEGER NOT NULL DEFAULT 0"))


def ensure_schema(conn: sqlite3.Connection) -> None:
    conn.executescript(SCHEMA)
    _add_conditions(conn)


def _add_conditions(conn: sqlite3.Connection) -> bool:
    """Give an offers table made before conditions its columns (empty: none); False when there is no table."""
    present = {row[1] for row in conn.execute("PRAGMA table_info(offers)")}
    if not present:
        return False
    missing = [(name, definition) for name, definition in _CONDITIONS if name not in present]
    if missing:
        with conn:
            for name, definition in missing:
                conn.execute(f"ALTER TABLE offers ADD COLUMN {name} {definition}")
    return True


def _columns(conn: sqlite3.Connection) -> str:
    """The select list, with the conditions once the table has them (a journal of an older till may not yet)."""
    present = {row[1] for row in conn.execute("PRAGMA table_info(offers)")}
    return _COLUMNS + (", o.category, o.min_basket_cents" if "min_basket_cents" in present else ", '', 0")


def apply_offers(conn: sqlite3.Connection, data: bytes, trust: Trust) -> int:
    """Replace the till's offers with the signed message's (the last retained message is the truth); returns
    how many offers it holds. A message not signed by a key of `trust`, older than the offers held, or not
    understood changes nothing: TillError says so."""
    try:
        opened = open_fresh(conn, trust, "offers", data)
    except SignatureError as exc:
        raise TillError(f"{exc}: the till keeps its previous offers") from None
    try:
        message = decode_offers(opened.payload)
    except ValueError as exc:
        raise TillError(f"offers message not understood ({exc}): the till keeps its previous offers") from None
    ensure_schema(conn)
    with conn:
        hold(conn, opened)
        conn.execute("DELETE FROM offers")
        conn.execute("DELETE FROM offer_cards")
        conn.executemany(
            "INSERT INTO offers VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    o.campaign,
                    o.name,
                    o.kind,
                    o.points,
                    o.cheque_cents,
                    o.starts.isoformat(),
                    o.ends.isoformat(),
                    ",".join(o.stores),
                    o.category or "",
                    o.min_basket_cents,
                )
                for o in message.offers
            ],
        )
        conn.executemany(
            "INSERT OR IGNORE INTO offer_cards VALUES (?, ?)",
            [(card, o.campaign) for o in message.offers for card in o.cards],
        )
    return len(message.offers)


def _offer(row) -> CampaignOffer:
    campaign, name, kind, points, cheque_cents, starts, ends, stores, category, min_basket_cents = row
    return CampaignOffer(
        category=category or None,
        min_basket_cents=min_basket_cents,
        campaign=campaign,
        name=name,
        kind=kind,
        points=points,
        cheque_cents=cheque_cents,
        starts=date.fromisoformat(starts),
        ends=date.fromisoformat(ends),
        stores=[s for s in stores.split(",") if s],
    )


def offers_for_card(conn: sqlite3.Connection, card: str, today: date, store: str) -> list[CampaignOffer]:
    """The card's offers for a sale `today` (local_day of the rules in force): in force, in this store, not
    used yet; by campaign id."""
    day = today.isoformat()
    try:
        rows = conn.execute(
            f"SELECT {_columns(conn)} FROM offer_cards c JOIN offers o ON o.campaign = c.campaign "
            "WHERE c.card = ? AND o.starts <= ? AND o.ends >= ? ORDER BY o.campaign",
            (card, day, day),
        ).fetchall()
    except sqlite3.OperationalError:  # no offers message received yet: the tables come with the first one
        return []
    found = [offer for offer in map(_offer, rows) if in_force(offer, today, store)]
    if not found:
        return []
    rules = [offer.rule for offer in found]
    used = {
        rule
        for (rule,) in conn.execute(
            f"SELECT DISTINCT rule FROM ledger WHERE card = ? AND rule IN ({','.join('?' * len(rules))})",
            (card, *rules),
        )
    }
    return [offer for offer in found if offer.rule not in used]


def offers_by_campaign(conn: sqlite3.Connection, campaigns: list[int]) -> dict[int, CampaignOffer]:
    """The offers of these campaigns still known to the till (for a receipt's campaign names)."""
    if not campaigns:
        return {}
    try:
        rows = conn.execute(
            f"SELECT {_columns(conn)} FROM offers o WHERE o.campaign IN ({','.join('?' * len(campaigns))})", campaigns
        ).fetchall()
    except sqlite3.OperationalError:
        return {}
    return {row[0]: _offer(row) for row in rows}


def count(conn: sqlite3.Connection) -> int:
    try:
        return conn.execute("SELECT count(*) FROM offers").fetchone()[0]
    except sqlite3.OperationalError:
        return 0
