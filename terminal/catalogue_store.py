"""The article catalogue at the till: every version head office pushed, kept in the journal; sales priced from it.

Head office publishes the catalogue retained, signed (server/desk/catalogue.py): every store's on
`loyalty/v1/down/all/catalogue`, one store's on `.../catalogue/S001`. The till keeps every version of its own
store's and every store's (`receive`, called by terminal/downlink.py), refuses an unsigned, badly signed or
replayed one, and sells offline from the latest of each: its store's price first, then every store's, the row in
force on the ticket's local day (a price change takes effect from its date).

Until a catalogue arrives the till sells from the shipped demo catalogue (programme/demo_catalogue.csv) and the
simulator's generated articles, so a new till and the demo sell at once; a store publishes its own catalogue
before opening (docs/catalogue.md), and from then on only what head office sent is sold.
"""

from __future__ import annotations

import logging
import random
import sqlite3
from datetime import date, datetime
from functools import cache

from programme.catalogue import ALL_STORES, Article, Catalogue, CatalogueError, decode_version, demo_catalogue
from programme.vat import REDUCED, STANDARD
from sync.signed import SignatureError, Trust, refuse_older

from .errors import TillError

log = logging.getLogger("loyalty.till.catalogue")

SCHEMA = """CREATE TABLE IF NOT EXISTS catalogue_versions (
    scope TEXT NOT NULL, version INTEGER NOT NULL, issued_at TEXT NOT NULL, received_at TEXT NOT NULL,
    payload TEXT NOT NULL, PRIMARY KEY (scope, version))"""
FOOD = {"grocery", "fresh", "dairy", "drinks"}  # the simulator's categories sold at the reduced rate


def receive(conn: sqlite3.Connection, data: bytes, received_at: str, trust: Trust, store: str) -> tuple[str, int]:
    """Keep a signed catalogue message of `store` or of every store; returns (scope, version).
    TillError when it is refused (unsigned, badly signed, another store's, older than the one held, not
    understood): nothing is kept then, the till sells from what it had."""
    try:
        opened = trust.open("catalogue", data)
        version = decode_version(opened.payload)
    except (SignatureError, CatalogueError) as exc:
        raise TillError(f"{exc}: the till keeps its catalogue") from None
    if version.scope not in (ALL_STORES, store):
        raise TillError(f"catalogue message refused: it is store {version.scope}'s, this till is in {store}")
    with conn:
        conn.execute(SCHEMA)
        row = conn.execute("SELECT max(issued_at) FROM catalogue_versions WHERE scope = ?", (version.scope,)).fetchone()
        try:
            refuse_older("catalogue", opened, datetime.fromisoformat(row[0]) if row[0] else None)
        except SignatureError as exc:
            raise TillError(f"{exc}: the till keeps its catalogue") from None
        conn.execute(
            "INSERT OR REPLACE INTO catalogue_versions VALUES (?, ?, ?, ?, ?)",
            (version.scope, version.version, opened.issued_at.isoformat(), received_at, opened.payload.decode()),
        )
    return version.scope, version.version


def held(conn: sqlite3.Connection) -> dict[str, int]:
    """scope -> version of the catalogue in use (the last issued), for the till's status and tests."""
    return {scope: version for scope, version, _ in _latest_rows(conn)}


def _latest_rows(conn: sqlite3.Connection) -> list[tuple[str, int, str]]:
    try:
        return conn.execute(
            "SELECT scope, version, payload FROM catalogue_versions c WHERE issued_at = "
            "(SELECT max(issued_at) FROM catalogue_versions l WHERE l.scope = c.scope)"
        ).fetchall()
    except sqlite3.OperationalError:  # nothing received yet: the table is made by the first message
        return []


@cache
def _articles(payload: str) -> tuple[Article, ...]:
    return tuple(decode_version(payload.encode()).articles)


@cache
def shipped() -> Catalogue:
    """What a till sells before head office's first catalogue: the demo CSV, then the simulator's articles."""
    from .simulate import catalogue as generated

    made = [
        Article(a.gtin, a.label, a.unit_cents, a.category, REDUCED if a.category in FOOD else STANDARD)
        for a in generated(random.Random(0))
    ]
    return Catalogue(demo_catalogue()[ALL_STORES], made)


def received(conn: sqlite3.Connection, store: str) -> Catalogue | None:
    """The catalogue head office sent this till (its store's first, then every store's); None before the first."""
    latest = {scope: payload for scope, _, payload in _latest_rows(conn)}
    layers = [_articles(latest[scope]) for scope in (store, ALL_STORES) if scope in latest]
    return Catalogue(*layers) if layers else None


class TillCatalogue:
    """What the basket looks articles up in: `get(gtin)` gives the article in force today (the rules' local
    day), from the catalogue received last; re-read when a new version has arrived."""

    default_vat_rate = STANDARD  # a typed price for an article not in the catalogue: the normal rate applies

    def __init__(self, conn: sqlite3.Connection, store: str, today):
        self.conn = conn
        self.store = store
        self.today = today  # () -> date: the store's local day now
        self._seen: object = None
        self._catalogue: Catalogue = shipped()

    def current(self) -> Catalogue:
        try:
            mark = self.conn.execute("SELECT count(*), max(received_at) FROM catalogue_versions").fetchone()
        except sqlite3.OperationalError:
            mark = None
        if mark != self._seen:
            self._catalogue = received(self.conn, self.store) or shipped()
            self._seen = mark
        return self._catalogue

    def get(self, gtin: str, day: date | None = None) -> Article | None:
        return self.current().article(gtin, day or self.today())
