"""The ticket store's tables on both engines: tickets, lines, ledger, received sequences, dead letters,
returns' links, held points, card balances. On PostgreSQL tickets are range-partitioned by month.

Declared here, in the lowest layer, and applied by the numbered migrations (server.storage.migrations) that
every opener runs (server.storage.connection), so every part of the server sees the same database.
"""

from __future__ import annotations

import sqlite3

SQLITE_SCHEMA = """
CREATE TABLE IF NOT EXISTS tickets (
    id TEXT PRIMARY KEY,
    terminal TEXT NOT NULL,
    seq INTEGER NOT NULL,
    store TEXT NOT NULL,
    cashier TEXT NOT NULL,
    closed_at TEXT NOT NULL,
    card TEXT,
    total_cents INTEGER NOT NULL,
    points_earned INTEGER NOT NULL,
    points_redeemed INTEGER NOT NULL,
    rules_version TEXT NOT NULL,
    hash TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    received_at TEXT NOT NULL,
    payload BLOB NOT NULL,
    UNIQUE (terminal, seq)
);
CREATE INDEX IF NOT EXISTS tickets_card ON tickets (card);
CREATE INDEX IF NOT EXISTS tickets_closed_at ON tickets (closed_at);
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
    vat_rate INTEGER,
    PRIMARY KEY (ticket_id, line_no)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS ledger (
    id INTEGER PRIMARY KEY,
    card TEXT NOT NULL,
    kind TEXT NOT NULL,
    points INTEGER NOT NULL,
    rule TEXT NOT NULL,
    cause TEXT NOT NULL UNIQUE,
    ticket_id TEXT,
    at TEXT NOT NULL,
    lot_at TEXT  -- a credit that counts for expiry from another time (points moved keep their lot's); NULL = at
);
CREATE INDEX IF NOT EXISTS ledger_card ON ledger (card);
CREATE TABLE IF NOT EXISTS received (
    terminal TEXT NOT NULL,
    seq INTEGER NOT NULL,
    status TEXT NOT NULL,
    digest TEXT,
    PRIMARY KEY (terminal, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS terminals (
    terminal TEXT PRIMARY KEY,
    contiguous_seq INTEGER NOT NULL DEFAULT 0,
    max_seq INTEGER NOT NULL DEFAULT 0,
    last_seen TEXT
);
CREATE TABLE IF NOT EXISTS gaps (
    id INTEGER PRIMARY KEY,
    terminal TEXT NOT NULL,
    from_seq INTEGER NOT NULL,
    to_seq INTEGER NOT NULL,
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
    id INTEGER PRIMARY KEY,
    received_at TEXT NOT NULL,
    terminal TEXT NOT NULL,
    seq INTEGER NOT NULL,
    ticket_id TEXT NOT NULL,
    reason TEXT NOT NULL,
    payload BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS chain_breaks (
    id INTEGER PRIMARY KEY,
    terminal TEXT NOT NULL,
    seq INTEGER NOT NULL,
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
    id INTEGER PRIMARY KEY,
    ticket_id TEXT NOT NULL UNIQUE,
    card TEXT,
    rules_version TEXT NOT NULL,
    till_points INTEGER NOT NULL,
    server_points INTEGER,
    reason TEXT NOT NULL,
    detected_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS dead_letters (
    id INTEGER PRIMARY KEY,
    received_at TEXT NOT NULL,
    topic TEXT NOT NULL,
    terminal TEXT,
    seq INTEGER,
    reason TEXT NOT NULL,
    payload BLOB NOT NULL
);
"""

RETURNS_SCHEMA = """
CREATE TABLE IF NOT EXISTS returned_lines (
    return_id TEXT NOT NULL,
    line_no INTEGER NOT NULL,
    original_id TEXT NOT NULL,
    original_line INTEGER NOT NULL,
    quantity INTEGER NOT NULL,
    points INTEGER NOT NULL,
    PRIMARY KEY (return_id, line_no)
);
CREATE INDEX IF NOT EXISTS returned_lines_original ON returned_lines (original_id, original_line);
"""

HELD_SCHEMA = """
CREATE TABLE IF NOT EXISTS held_points (
    ticket_id TEXT PRIMARY KEY,
    card TEXT NOT NULL,
    rules_version TEXT NOT NULL,
    points INTEGER NOT NULL,
    reason TEXT NOT NULL,
    held_at TEXT NOT NULL,
    released_at TEXT,
    released_points INTEGER,
    released_by TEXT  -- who released it by hand (server.ingest.held.release); NULL: released by the recompute
);
"""


# Each card's balance, kept by the database itself as the ledger changes: a balance is one lookup,
# not the sum of a card's whole history (the ingest pushes the balances of every batch's cards).
SQLITE_CARD_POINTS = [
    "CREATE TABLE IF NOT EXISTS card_points (card TEXT PRIMARY KEY, points INTEGER NOT NULL) WITHOUT ROWID",
    """CREATE TRIGGER IF NOT EXISTS ledger_points_in AFTER INSERT ON ledger BEGIN
        INSERT INTO card_points (card, points) VALUES (NEW.card, NEW.points)
        ON CONFLICT (card) DO UPDATE SET points = points + excluded.points;
    END""",
    """CREATE TRIGGER IF NOT EXISTS ledger_points_out AFTER DELETE ON ledger BEGIN
        UPDATE card_points SET points = points - OLD.points WHERE card = OLD.card;
    END""",
    """CREATE TRIGGER IF NOT EXISTS ledger_points_change AFTER UPDATE OF card, points ON ledger BEGIN
        UPDATE card_points SET points = points - OLD.points WHERE card = OLD.card;
        INSERT INTO card_points (card, points) VALUES (NEW.card, NEW.points)
        ON CONFLICT (card) DO UPDATE SET points = points + excluded.points;
    END""",
]


def add_card_points(conn: sqlite3.Connection) -> None:
    """`card_points` and its triggers; a database made before them gets its balances summed once."""
    present = (
        conn.execute(
            "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'ledger_points_%'"
        ).fetchone()[0]
        == 3
    )
    if present:
        return
    conn.execute(SQLITE_CARD_POINTS[0])
    conn.execute("DELETE FROM card_points")
    conn.execute("INSERT INTO card_points (card, points) SELECT card, sum(points) FROM ledger GROUP BY card")
    for statement in SQLITE_CARD_POINTS[1:]:
        conn.execute(statement)


def add_lot_at(conn: sqlite3.Connection) -> None:
    """Databases made before ledger.lot_at existed get the column (NULL: their entries count from `at`)."""
    if "lot_at" not in {r[1] for r in conn.execute("PRAGMA table_info(ledger)")}:
        conn.execute("ALTER TABLE ledger ADD COLUMN lot_at TEXT")


PG_SCHEMA = """
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
    vat_rate INTEGER,
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

# Each card's balance, kept by the database as the ledger changes (as SQLITE_CARD_POINTS).
# Statement-level triggers: one upsert per card and statement (COPY included), in card order, so two
# workers writing at once lock the same rows in the same order.
PG_CARD_POINTS = """
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
