"""The server's store on PostgreSQL (psycopg 3): the same semantics as server.store.Store on SQLite.

One transaction per batch; idempotent on (terminal, seq) and on ticket id; a conflicting duplicate
goes to dead letters; received sequences, contiguous ack per terminal, gaps recorded then resolved;
signature quarantine and chain breaks. Tickets are range-partitioned by month on closed_at (UTC),
a partition created the first time a batch touches its month; lines are keyed by ticket id.

A partitioned table's unique keys must include the partition key, so ticket id and (terminal, seq)
are kept unique in `ticket_keys`, a narrow table beside `tickets` (it also serves the chain checks).
Several workers may write at once: each batch first takes a transaction lock per terminal it
touches (in order), so acks and gaps are computed over everything committed for that terminal.
The rules shared with SQLite (row shapes, chain links, acks, quarantine, stats, points check) are
the same code: server.store_rows, and Store's methods run through server.dbconn's PgConnection (sqlite3's API).
"""
from __future__ import annotations

from datetime import datetime, timezone

import psycopg
from psycopg.rows import dict_row

from programme.ticket import ticket_hash
from sync.codec import payload_digest

from server.storage.connection import PgConnection
from server.ingest.overdraft import record_overdrafts
from server.ingest.precheck import prechecked
from server.ingest.store import BatchResult, DeadLetter, Store
from server.ingest.held import SCHEMA as HELD_SCHEMA
from server.ingest.returns_check import SCHEMA_PG as RETURNS_SCHEMA, record_returns
from server.ingest.store_rows import chain_breaks, line_rows, ticket_row

SCHEMA_LOCK = 0x10CA17  # advisory lock ids: schema and partitions are created by one worker at a time
PARTITION_LOCK = 0x10CA18

SCHEMA = """
CREATE TABLE IF NOT EXISTS ticket_keys (
    id TEXT PRIMARY KEY,
    terminal TEXT NOT NULL,
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    UNIQUE (terminal, seq)
);
CREATE TABLE IF NOT EXISTS tickets (
    id TEXT NOT NULL,
    terminal TEXT NOT NULL,
    seq BIGINT NOT NULL,
    store TEXT NOT NULL,
    cashier TEXT NOT NULL,
    closed_at TIMESTAMPTZ NOT NULL,
    card TEXT,
    total_cents INTEGER NOT NULL,
    points_earned INTEGER NOT NULL,
    points_redeemed INTEGER NOT NULL,
    rules_version TEXT NOT NULL,
    hash TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    received_at TEXT NOT NULL,
    payload BYTEA NOT NULL,
    PRIMARY KEY (closed_at, id)
) PARTITION BY RANGE (closed_at);
CREATE INDEX IF NOT EXISTS tickets_card ON tickets (card);
CREATE INDEX IF NOT EXISTS tickets_terminal_seq ON tickets (terminal, seq);
CREATE TABLE IF NOT EXISTS lines (
    ticket_id TEXT NOT NULL,
    line_no INTEGER NOT NULL,
    gtin TEXT NOT NULL,
    label TEXT NOT NULL,
    category TEXT NOT NULL,
    quantity INTEGER NOT NULL,
    unit_cents INTEGER NOT NULL,
    discount_cents INTEGER NOT NULL,
    total_cents INTEGER NOT NULL,
    PRIMARY KEY (ticket_id, line_no)
);
CREATE TABLE IF NOT EXISTS ledger (
    id BIGSERIAL PRIMARY KEY,
    card TEXT NOT NULL,
    kind TEXT NOT NULL,
    points INTEGER NOT NULL,
    rule TEXT NOT NULL,
    cause TEXT NOT NULL UNIQUE,
    ticket_id TEXT,
    at TEXT NOT NULL,
    lot_at TEXT
);
ALTER TABLE ledger ADD COLUMN IF NOT EXISTS lot_at TEXT;
CREATE INDEX IF NOT EXISTS ledger_card ON ledger (card);
CREATE TABLE IF NOT EXISTS received (
    terminal TEXT NOT NULL,
    seq BIGINT NOT NULL,
    status TEXT NOT NULL,
    digest TEXT,
    PRIMARY KEY (terminal, seq)
);
CREATE TABLE IF NOT EXISTS terminals (
    terminal TEXT PRIMARY KEY,
    contiguous_seq BIGINT NOT NULL DEFAULT 0,
    max_seq BIGINT NOT NULL DEFAULT 0,
    last_seen TEXT
);
CREATE TABLE IF NOT EXISTS gaps (
    id BIGSERIAL PRIMARY KEY,
    terminal TEXT NOT NULL,
    from_seq BIGINT NOT NULL,
    to_seq BIGINT NOT NULL,
    detected_at TEXT NOT NULL,
    resolved_at TEXT,
    UNIQUE (terminal, from_seq)
);
CREATE TABLE IF NOT EXISTS till_keys (
    terminal TEXT PRIMARY KEY,
    public_key TEXT NOT NULL,
    registered_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS quarantine (
    id BIGSERIAL PRIMARY KEY,
    received_at TEXT NOT NULL,
    terminal TEXT NOT NULL,
    seq BIGINT NOT NULL,
    ticket_id TEXT NOT NULL,
    reason TEXT NOT NULL,
    payload BYTEA NOT NULL
);
CREATE TABLE IF NOT EXISTS chain_breaks (
    id BIGSERIAL PRIMARY KEY,
    terminal TEXT NOT NULL,
    seq BIGINT NOT NULL,
    expected_prev_hash TEXT NOT NULL,
    found_prev_hash TEXT NOT NULL,
    detected_at TEXT NOT NULL,
    UNIQUE (terminal, seq)
);
CREATE TABLE IF NOT EXISTS rules_versions (
    version TEXT PRIMARY KEY,
    effective_from TEXT NOT NULL,
    toml TEXT NOT NULL,
    recorded_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS discrepancies (
    id BIGSERIAL PRIMARY KEY,
    ticket_id TEXT NOT NULL UNIQUE,
    card TEXT,
    rules_version TEXT NOT NULL,
    till_points INTEGER NOT NULL,
    server_points INTEGER,
    reason TEXT NOT NULL,
    detected_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS dead_letters (
    id BIGSERIAL PRIMARY KEY,
    received_at TEXT NOT NULL,
    topic TEXT NOT NULL,
    terminal TEXT,
    seq BIGINT,
    reason TEXT NOT NULL,
    payload BYTEA NOT NULL
);
"""

TICKET_COLUMNS = ("id, terminal, seq, store, cashier, closed_at, card, total_cents, points_earned, "
                  "points_redeemed, rules_version, hash, prev_hash, received_at, payload")


def month_of(moment: datetime) -> tuple[int, int]:
    utc = moment.astimezone(timezone.utc)
    return utc.year, utc.month


def partition_ddl(year: int, month: int) -> str:
    following = (year + 1, 1) if month == 12 else (year, month + 1)
    return (f"CREATE TABLE IF NOT EXISTS tickets_{year:04d}_{month:02d} PARTITION OF tickets FOR VALUES "
            f"FROM ('{year:04d}-{month:02d}-01 00:00+00') TO ('{following[0]:04d}-{following[1]:02d}-01 00:00+00')")


# Each card's balance, kept by the database as the ledger changes (see server/ingest/store.py's CARD_POINTS).
# Statement-level triggers: one upsert per card and statement (COPY included), in card order, so two
# workers writing at once lock the same rows in the same order.
CARD_POINTS = """
CREATE TABLE card_points (card TEXT PRIMARY KEY, points BIGINT NOT NULL);
INSERT INTO card_points (card, points) SELECT card, sum(points) FROM ledger GROUP BY card;
CREATE FUNCTION ledger_points_in() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO card_points (card, points) SELECT card, sum(points) FROM added GROUP BY card ORDER BY card
    ON CONFLICT (card) DO UPDATE SET points = card_points.points + excluded.points;
    RETURN NULL;
END $$;
CREATE FUNCTION ledger_points_out() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE card_points c SET points = c.points - r.points
    FROM (SELECT card, sum(points) AS points FROM removed GROUP BY card ORDER BY card) r WHERE c.card = r.card;
    RETURN NULL;
END $$;
CREATE FUNCTION ledger_points_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO card_points (card, points)
    SELECT card, sum(points) FROM (SELECT card, points FROM added UNION ALL SELECT card, -points FROM removed) d
    GROUP BY card ORDER BY card
    ON CONFLICT (card) DO UPDATE SET points = card_points.points + excluded.points;
    RETURN NULL;
END $$;
CREATE TRIGGER ledger_points_in AFTER INSERT ON ledger REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_points_in();
CREATE TRIGGER ledger_points_out AFTER DELETE ON ledger REFERENCING OLD TABLE AS removed
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_points_out();
CREATE TRIGGER ledger_points_change AFTER UPDATE ON ledger REFERENCING NEW TABLE AS added OLD TABLE AS removed
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_points_change();
"""


def connect(url: str) -> psycopg.Connection:
    conn = psycopg.connect(url, autocommit=True)
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
        conn.execute(SCHEMA + RETURNS_SCHEMA + HELD_SCHEMA)
        if conn.execute("SELECT to_regclass('card_points')").fetchone()[0] is None:
            conn.execute(CARD_POINTS)  # a database made before card_points gets its balances summed once
    return conn


class PgStore:
    """server.ingest.store.Store's interface on PostgreSQL; `target` is a postgresql:// URL (libpq's)."""

    def __init__(self, target: str, require_registered: bool = False):
        self.path = self.url = target
        self.require_registered = require_registered
        self.conn = PgConnection(connect(target))
        self._keys: dict | None = None
        self._keys_mark: tuple | None = None
        self._rules = None
        self._months: set[tuple[int, int]] = set()

    def close(self) -> None:
        self.conn.close()

    # The same code as on SQLite, through PgConnection.
    register_till = Store.register_till
    _till_keys = Store._till_keys
    _quarantined = Store._quarantined
    requeue = Store.requeue
    precheck = Store.precheck
    _advance = Store._advance
    acks = Store.acks
    ack_digest = Store.ack_digest
    balances = Store.balances
    balances_for_till = Store.balances_for_till
    max_seq = Store.max_seq
    ticket_count = Store.ticket_count
    stats = Store.stats

    def dead_letters(self) -> list[dict]:
        with self.conn.raw.cursor(row_factory=dict_row) as cur:
            return cur.execute("SELECT id, received_at, topic, terminal, seq, reason, length(payload) AS size "
                               "FROM dead_letters ORDER BY id").fetchall()

    # -- ingest ----------------------------------------------------------------------------------
    def ingest(self, tickets: list[tuple], dead: list[DeadLetter], now: str) -> BatchResult:
        """Write a batch in one transaction: (topic, ticket, payload[, Precheck]) items and dead letters."""
        if self.conn.raw.closed:  # the server went away during an earlier batch: the caller retries
            self.conn = PgConnection(connect(self.url))
        raw = self.conn.raw
        result = BatchResult()
        ordered = sorted(tickets, key=lambda t: (t[1].terminal, t[1].seq))
        touched = {item[1].terminal for item in ordered} | {
            d.terminal for d in dead if d.terminal is not None and d.seq is not None and d.seq > 0}
        self._ensure_partitions({month_of(item[1].closed_at) for item in ordered})
        with raw.transaction():
            for terminal in sorted(touched):
                raw.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (terminal,))
            keys = self._till_keys()
            candidates, known = [], {}
            for item in ordered:
                topic, ticket, payload = item[:3]
                pre = prechecked(item)
                if self._quarantined(ticket, keys, payload, now, pre):
                    result.quarantined += 1
                    continue
                candidates.append((topic, ticket, payload, pre.digest if pre is not None else ticket_hash(ticket)))
                if pre is not None and pre.points_checked:
                    known[ticket.id] = pre.discrepancy
            stored, duplicates = self._claim(candidates)
            self._dead_duplicates(duplicates, dead)
            result.duplicates, result.stored = len(duplicates), len(stored)
            self._write(stored, now, known)
            record_overdrafts(self.conn, [s[1] for s in stored], now)  # reservations used, cards overdrawn
            for letter in dead:
                raw.execute("INSERT INTO dead_letters (received_at, topic, terminal, seq, reason, payload) "
                            "VALUES (%s, %s, %s, %s, %s, %s)",
                            (now, letter.topic, letter.terminal, letter.seq, letter.reason, letter.payload))
                if letter.terminal is not None and letter.seq is not None and letter.seq > 0:
                    raw.execute("INSERT INTO received VALUES (%s, %s, 'dead', %s) ON CONFLICT DO NOTHING",
                                (letter.terminal, letter.seq, payload_digest(letter.payload)))
            result.dead_letters = len(dead)
            for terminal in touched:
                self._advance(terminal, now, result)
        return result

    def _ensure_partitions(self, months: set[tuple[int, int]]) -> None:
        missing = months - self._months
        if not missing:
            return
        raw = self.conn.raw
        with raw.transaction():
            raw.execute("SELECT pg_advisory_xact_lock(%s)", (PARTITION_LOCK,))
            for year, month in sorted(missing):
                raw.execute(partition_ddl(year, month))
        self._months |= missing

    def _claim(self, candidates: list) -> tuple[list, list]:
        """Insert the batch's keys at once; the first of each id or (terminal, seq) not stored before wins."""
        if not candidates:
            return [], []
        inserted = {r[0] for r in self.conn.raw.execute(
            "INSERT INTO ticket_keys (id, terminal, seq, hash, prev_hash) "
            "SELECT id, terminal, seq, hash, prev_hash FROM unnest(%s::text[], %s::text[], %s::bigint[], "
            "%s::text[], %s::text[]) WITH ORDINALITY AS u(id, terminal, seq, hash, prev_hash, n) ORDER BY n "
            "ON CONFLICT DO NOTHING RETURNING id",
            ([t.id for _, t, _, _ in candidates], [t.terminal for _, t, _, _ in candidates],
             [t.seq for _, t, _, _ in candidates], [d for _, _, _, d in candidates],
             [t.prev_hash for _, t, _, _ in candidates]), binary=True)}
        stored, duplicates = [], []
        for candidate in candidates:
            ticket_id = candidate[1].id
            if ticket_id in inserted:
                stored.append(candidate)
                inserted.discard(ticket_id)
            else:
                duplicates.append(candidate)
        return stored, duplicates

    def _dead_duplicates(self, duplicates: list, dead: list[DeadLetter]) -> None:
        """A duplicate with other content than the stored ticket is kept as a dead letter."""
        if not duplicates:
            return
        by_id, by_seq = {}, {}
        for ticket_id, terminal, seq, digest in self.conn.raw.execute(
                "SELECT id, terminal, seq, hash FROM ticket_keys WHERE id = ANY(%s) "
                "OR (terminal, seq) IN (SELECT * FROM unnest(%s::text[], %s::bigint[]))",
                ([t.id for _, t, _, _ in duplicates], [t.terminal for _, t, _, _ in duplicates],
                 [t.seq for _, t, _, _ in duplicates]), binary=True):
            by_id[ticket_id] = by_seq[(terminal, seq)] = digest
        for topic, ticket, payload, digest in duplicates:
            existing = by_id.get(ticket.id) or by_seq.get((ticket.terminal, ticket.seq))
            if existing is not None and existing != digest:
                dead.append(DeadLetter(topic, f"conflicting duplicate: ticket {ticket.id} was already "
                                              "stored with different content", payload))

    def _write(self, stored: list, now: str, known: dict) -> None:
        """COPY the stored tickets and their lines; ledger, received sequences, chain links, points check."""
        if not stored:
            return
        raw = self.conn.raw
        with raw.cursor() as cur:
            with cur.copy(f"COPY tickets ({TICKET_COLUMNS}) FROM STDIN") as copy:
                for _, ticket, payload, digest in stored:
                    copy.write_row(ticket_row(ticket, digest, now, payload))
            with cur.copy("COPY lines FROM STDIN") as copy:
                for _, ticket, _, _ in stored:
                    for row in line_rows(ticket):
                        copy.write_row(row)
            cur.execute("INSERT INTO received SELECT terminal, seq, 'stored', digest "
                        "FROM unnest(%s::text[], %s::bigint[], %s::text[]) AS u(terminal, seq, digest) "
                        "ON CONFLICT DO NOTHING",
                        ([t.terminal for _, t, _, _ in stored], [t.seq for _, t, _, _ in stored],
                         [payload_digest(p) for _, _, p, _ in stored]), binary=True)
            self._check_chains(cur, stored, now)
        checked = [ticket for _, ticket, _, _ in stored]
        self._book_points(checked, now, known)
        record_returns(self.conn, checked, now)

    def _check_chains(self, cur: psycopg.Cursor, stored: list, now: str) -> None:
        """Each ticket names the previous one's hash: record any link that does not hold (all keys are in)."""
        neighbours = cur.execute(
            "SELECT b.hash, a.prev_hash FROM unnest(%s::text[], %s::bigint[]) WITH ORDINALITY AS s(terminal, seq, n) "
            "LEFT JOIN ticket_keys b ON b.terminal = s.terminal AND b.seq = s.seq - 1 "
            "LEFT JOIN ticket_keys a ON a.terminal = s.terminal AND a.seq = s.seq + 1 ORDER BY s.n",
            ([t.terminal for _, t, _, _ in stored], [t.seq for _, t, _, _ in stored]), binary=True).fetchall()
        breaks = [(*found, now) for (_, ticket, _, digest), (before, after) in zip(stored, neighbours)
                  for found in chain_breaks(ticket.terminal, ticket.seq, digest, ticket.prev_hash, before, after)]
        if breaks:
            cur.executemany("INSERT INTO chain_breaks (terminal, seq, expected_prev_hash, found_prev_hash, "
                            "detected_at) VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING", breaks)

    _book_points = Store._book_points

    def _insert_ledger(self, rows: list[tuple]) -> None:
        """A claimed ticket is new, so are its ledger causes (ticket:ID:N): COPY, no conflict to skip.
        Held points released later are new causes too (server/ingest/held.py)."""
        if not rows:
            return
        with self.conn.raw.cursor() as cur:
            with cur.copy("COPY ledger (card, kind, points, rule, cause, ticket_id, at) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
