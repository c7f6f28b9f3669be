"""The offer types head office defines for the next best offer (bonus points on a category, a cheque above a
basket threshold, a win-back offer), kept in `nbo_offer_types`, and each type's holdout draw. The chooser
(next_offer.py) and the results (offer_results.py) both read them from here.

A type's condition goes with every campaign chosen from it, to the tills and to ingest's check
(programme/campaign_offers.py): bonus points on a category are paid once, on a ticket with spend that earns
points on that category; a cheque needs its basket threshold of such spend (`min_basket_cents`); any type may
also have a threshold. Excluded lines (tobacco, infant formula) and capped ones (books) never count."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timezone

import msgspec

from programme.campaign_offers import MAX_MIN_BASKET_CENTS
from server.storage.connection import POSTGRESQL, Connection, dialect, has_column, joined_or_own_transaction
from server.storage.ddl import postgres_schema
from ..errors import ServerError
from . import campaigns
from .aggregate import create_pg

SCHEMA = """
CREATE TABLE IF NOT EXISTS nbo_offer_types (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL CHECK (kind IN ('category_points', 'basket_cheque', 'winback')),
    category TEXT NOT NULL DEFAULT '',
    points INTEGER NOT NULL DEFAULT 0,
    cheque_cents INTEGER NOT NULL DEFAULT 0,
    days INTEGER NOT NULL,
    holdout_per_mille INTEGER NOT NULL,
    min_run_days INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    stopped_at TEXT,
    stopped_why TEXT,
    stopped_json TEXT
);
CREATE TABLE IF NOT EXISTS nbo_choices (
    day TEXT NOT NULL,
    customer TEXT NOT NULL,
    offer_type_id INTEGER NOT NULL,
    policy TEXT NOT NULL,
    grp TEXT NOT NULL CHECK (grp IN ('target', 'holdout')),
    cell TEXT NOT NULL,
    expected_cents INTEGER NOT NULL,
    reason TEXT NOT NULL,
    campaign_id INTEGER NOT NULL,
    PRIMARY KEY (day, customer)
) WITHOUT ROWID;
"""
SCHEMA_PG = postgres_schema(SCHEMA)
KINDS = ("category_points", "basket_cheque", "winback")
POLICIES = ("model", "random", "segment")
RESPONSE = 0.08  # extra visits an offer causes for an average customer (index 1), before learning
MAX_INDEX = 4.0  # an index from the profile counts up to this
PRIOR_WEIGHT = 200  # customers measured before what they did weighs as much as the prior
DEFAULT_RHYTHM = 60.0  # days between visits assumed for a customer seen once
MAX_DAYS, MAX_RUN_DAYS, MAX_HOLDOUT = 60, 365, 500


class OfferType(msgspec.Struct, kw_only=True):
    name: str
    kind: str
    category: str = ""  # category_points: the category whose buyers it suits
    points: int = 0  # category_points, winback: bonus points on the next ticket
    cheque_cents: int = 0  # basket_cheque: the cheque's value
    min_basket_cents: int = 0  # the least spend that earns points a ticket needs (basket_cheque: required)
    days: int = 7  # how long a chosen offer stays open
    holdout_per_mille: int = 100
    min_run_days: int = 28  # run at least this long before it may be stopped for doing harm


@dataclass
class Choice:
    customer: str
    cards: list[str]
    offer_type: int
    grp: str
    cell: str
    expected_cents: int
    reason: str


def ensure_schema(conn: Connection) -> None:
    campaigns.ensure_schema(conn)
    if dialect(conn) == POSTGRESQL:
        create_pg(conn, "nbo_choices", SCHEMA_PG)
    else:
        conn.executescript(SCHEMA)
    _add_threshold(conn)


def _add_threshold(conn: Connection) -> None:
    """The basket threshold, on a database made before it: none."""
    if not has_column(conn, "nbo_offer_types", "min_basket_cents"):
        with joined_or_own_transaction(conn):
            if not has_column(conn, "nbo_offer_types", "min_basket_cents"):
                conn.execute("ALTER TABLE nbo_offer_types ADD COLUMN min_basket_cents INTEGER NOT NULL DEFAULT 0")


def _check(t: OfferType) -> None:
    if not t.name.strip():
        raise ServerError("an offer type needs a name: give it one")
    if t.kind not in KINDS:
        raise ServerError(f"offer type kind {t.kind!r} is not one of {', '.join(KINDS)}")
    if t.kind == "category_points" and not t.category.strip():
        raise ServerError("bonus points on a category need the category: give one")
    if len(t.category.strip()) > campaigns.MAX_CATEGORY:
        raise ServerError(f"a category's name is at most {campaigns.MAX_CATEGORY} characters: give a shorter one")
    if t.kind == "basket_cheque" and not 0 < t.min_basket_cents <= MAX_MIN_BASKET_CENTS:
        raise ServerError(
            "a cheque above a basket threshold needs the threshold: give the basket's least amount, "
            f"0.01 to {MAX_MIN_BASKET_CENTS // 100}.00 EUR"
        )
    if not 0 <= t.min_basket_cents <= MAX_MIN_BASKET_CENTS:
        raise ServerError(f"a basket threshold is 0.00 to {MAX_MIN_BASKET_CENTS // 100}.00 EUR: give one in that range")
    if t.kind in ("category_points", "winback") and not 0 < t.points <= campaigns.MAX_BONUS_POINTS:
        raise ServerError(f"give the bonus points, 1 to {campaigns.MAX_BONUS_POINTS}")
    if t.kind == "basket_cheque" and not 0 < t.cheque_cents <= campaigns.MAX_CHEQUE_CENTS:
        raise ServerError(f"give the cheque's value, 0.01 to {campaigns.MAX_CHEQUE_CENTS // 100}.00 EUR")
    if not 1 <= t.days <= MAX_DAYS:
        raise ServerError(f"an offer stays open 1 to {MAX_DAYS} days: give days in that range")
    if not 1 <= t.holdout_per_mille <= MAX_HOLDOUT:
        raise ServerError(f"the holdout is 0.1% to {MAX_HOLDOUT // 10}% of the customers (per mille 1-{MAX_HOLDOUT})")
    if not 1 <= t.min_run_days <= MAX_RUN_DAYS:
        raise ServerError(f"the minimum run is 1 to {MAX_RUN_DAYS} days: give one in that range")


def define(conn: Connection, offer_type: OfferType, now: str | None = None) -> int:
    """Record an offer type head office offers; returns its id."""
    _check(offer_type)
    ensure_schema(conn)
    now = now or datetime.now(timezone.utc).isoformat(timespec="seconds")
    with joined_or_own_transaction(conn):
        if conn.execute("SELECT 1 FROM nbo_offer_types WHERE name = ?", (offer_type.name.strip(),)).fetchone():
            raise ServerError(f"an offer type is already named {offer_type.name.strip()!r}: give another name")
        t = offer_type
        return conn.execute(
            "INSERT INTO nbo_offer_types (name, kind, category, points, cheque_cents, days, holdout_per_mille, "
            "min_run_days, created_at, min_basket_cents) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (
                t.name.strip(),
                t.kind,
                t.category.strip() if t.kind == "category_points" else "",
                t.points if t.kind != "basket_cheque" else 0,
                t.cheque_cents if t.kind == "basket_cheque" else 0,
                t.days,
                t.holdout_per_mille,
                t.min_run_days,
                now,
                t.min_basket_cents,
            ),
        ).fetchall()[0][0]


def offer_types(conn: Connection, active_only: bool = False) -> list[dict]:
    ensure_schema(conn)
    cur = conn.execute(
        "SELECT * FROM nbo_offer_types " + ("WHERE stopped_at IS NULL " if active_only else "") + "ORDER BY id"
    )
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row)) for row in cur]


def held_out(offer_type: int, customer: str, per_mille: int) -> bool:
    """The holdout draw: the same customer and offer type always fall on the same side."""
    digest = hashlib.sha256(f"nbo:{offer_type}:{customer}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % 1000 < per_mille
