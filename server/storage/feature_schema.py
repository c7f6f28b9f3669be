"""The tables of the server's features beside the ticket store and the desk (cheques, reservations, till status
and events, the catalogue, the office's aggregates, caches, campaigns, offers and archive), made by the numbered
migrations (server.storage.migrations) when a database is opened, so no feature creates a table at run time.

Written in SQLite's spelling; PostgreSQL's is derived (server.storage.ddl.postgres_schema) or, where it
differs more, written beside it (`*_PG`). Every statement is IF NOT EXISTS: a database made before these
migrations already holds the tables its features made, and keeps them.
"""

from __future__ import annotations

# server.desk.cheque_book
CHEQUES = """
CREATE TABLE IF NOT EXISTS cheques (
    serial TEXT PRIMARY KEY,
    card TEXT NOT NULL,
    cents BIGINT NOT NULL,
    issued_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    issue_ticket TEXT,
    state TEXT NOT NULL,
    spent_ticket TEXT,
    spent_at TEXT,
    held_by TEXT,
    held_until TEXT,
    note TEXT
);
CREATE INDEX IF NOT EXISTS cheques_card ON cheques (card);
CREATE TABLE IF NOT EXISTS cheque_spends (
    ticket_id TEXT NOT NULL,
    n INTEGER NOT NULL,
    serial TEXT NOT NULL,
    card TEXT,
    cents BIGINT NOT NULL,
    at TEXT NOT NULL,
    PRIMARY KEY (ticket_id, n)
);
CREATE INDEX IF NOT EXISTS cheque_spends_serial ON cheque_spends (serial);
"""

# server.ingest.reservations, server.ingest.overdraft
RESERVATIONS = """
CREATE TABLE IF NOT EXISTS reservations (
    id TEXT PRIMARY KEY,
    card TEXT NOT NULL,
    terminal TEXT NOT NULL,
    points BIGINT NOT NULL,
    after_seq BIGINT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    status TEXT NOT NULL,
    ticket_id TEXT,
    ended_at TEXT
);
CREATE INDEX IF NOT EXISTS reservations_card ON reservations (card, status);
"""
OVERDRAFTS = """
CREATE TABLE IF NOT EXISTS overdrafts (
    id INTEGER PRIMARY KEY,
    card TEXT NOT NULL,
    balance BIGINT NOT NULL,
    tickets TEXT NOT NULL,
    detected_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS overdrafts_card ON overdrafts (card);
"""

# server.ingest.till_status, server.ingest.till_events: the same DDL on both engines
TILL_STATUS = """
CREATE TABLE IF NOT EXISTS till_status (
    terminal TEXT PRIMARY KEY,
    sent_at TEXT NOT NULL,
    received_at TEXT NOT NULL,
    backlog BIGINT NOT NULL,
    oldest_unacked_at TEXT,
    last_seq BIGINT NOT NULL,
    last_acked_seq BIGINT NOT NULL,
    rules_version TEXT,
    software TEXT NOT NULL
)
"""
TILL_EVENTS = """
CREATE TABLE IF NOT EXISTS till_events (
    terminal TEXT NOT NULL,
    chain TEXT NOT NULL,
    seq BIGINT NOT NULL,
    kind TEXT NOT NULL,
    at TEXT NOT NULL,
    store TEXT NOT NULL,
    cashier TEXT NOT NULL,
    after_seq BIGINT NOT NULL,
    ticket_id TEXT,
    copy INTEGER NOT NULL,
    total_cents BIGINT NOT NULL,
    hash TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT NOT NULL,
    received_at TEXT NOT NULL,
    payload TEXT NOT NULL,
    PRIMARY KEY (terminal, chain, seq, hash)
);
CREATE INDEX IF NOT EXISTS till_events_ticket ON till_events (ticket_id);
CREATE INDEX IF NOT EXISTS till_events_at ON till_events (at);
"""

# server.desk.catalogue
CATALOGUE = """CREATE TABLE IF NOT EXISTS catalogue_versions (
    scope TEXT NOT NULL,
    version INTEGER NOT NULL,
    imported_at TEXT NOT NULL,
    source TEXT NOT NULL,
    articles INTEGER NOT NULL,
    payload TEXT NOT NULL,
    PRIMARY KEY (scope, version)
)"""

# server.analytics.aggregate. On PostgreSQL tickets have no rowid: a trigger notes each ticket stored in
# aggregate_pending (in the ticket's own transaction) and a fold takes from there.
AGGREGATES = """
CREATE TABLE IF NOT EXISTS card_day (
    card TEXT NOT NULL,
    day TEXT NOT NULL,
    store TEXT NOT NULL,
    spend_cents INTEGER NOT NULL,
    margin_cents INTEGER NOT NULL,
    tickets INTEGER NOT NULL,
    points INTEGER NOT NULL,
    points_redeemed INTEGER NOT NULL,
    PRIMARY KEY (card, day, store)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS card_day_day ON card_day (day);
CREATE TABLE IF NOT EXISTS store_day (
    store TEXT NOT NULL,
    day TEXT NOT NULL,
    spend_cents INTEGER NOT NULL,
    tickets INTEGER NOT NULL,
    identified_cents INTEGER NOT NULL,
    identified_tickets INTEGER NOT NULL,
    PRIMARY KEY (store, day)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS card_category (
    card TEXT NOT NULL,
    category TEXT NOT NULL,
    spend_cents INTEGER NOT NULL,
    PRIMARY KEY (card, category)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS aggregate_state (
    name TEXT PRIMARY KEY,
    last_rowid INTEGER NOT NULL
);
"""
AGGREGATES_PG = """
CREATE TABLE IF NOT EXISTS card_day (
    card TEXT NOT NULL,
    day TEXT NOT NULL,
    store TEXT NOT NULL,
    spend_cents INTEGER NOT NULL,
    margin_cents INTEGER NOT NULL,
    tickets INTEGER NOT NULL,
    points INTEGER NOT NULL,
    points_redeemed INTEGER NOT NULL,
    PRIMARY KEY (card, day, store)
);
CREATE INDEX IF NOT EXISTS card_day_day ON card_day (day);
CREATE TABLE IF NOT EXISTS store_day (
    store TEXT NOT NULL,
    day TEXT NOT NULL,
    spend_cents INTEGER NOT NULL,
    tickets INTEGER NOT NULL,
    identified_cents INTEGER NOT NULL,
    identified_tickets INTEGER NOT NULL,
    PRIMARY KEY (store, day)
);
CREATE TABLE IF NOT EXISTS card_category (
    card TEXT NOT NULL,
    category TEXT NOT NULL,
    spend_cents INTEGER NOT NULL,
    PRIMARY KEY (card, category)
);
CREATE TABLE IF NOT EXISTS aggregate_state (
    name TEXT PRIMARY KEY,
    last_rowid INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS aggregate_pending (
    n BIGSERIAL PRIMARY KEY,
    id TEXT NOT NULL,
    card TEXT,
    day TEXT NOT NULL,
    store TEXT NOT NULL,
    total_cents INTEGER NOT NULL,
    points_earned INTEGER NOT NULL,
    points_redeemed INTEGER NOT NULL
);
CREATE OR REPLACE FUNCTION aggregate_note_tickets() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO aggregate_pending (id, card, day, store, total_cents, points_earned, points_redeemed)
    SELECT id, card, to_char(closed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD'), store, total_cents, points_earned,
           points_redeemed FROM stored;
    RETURN NULL;
END $$;
"""
# the trigger, and the tickets stored before it existed, in one go (ingest waits meanwhile)
AGGREGATES_TRIGGER_PG = """
LOCK TABLE tickets IN SHARE ROW EXCLUSIVE MODE;
INSERT INTO aggregate_pending (id, card, day, store, total_cents, points_earned, points_redeemed)
SELECT id, card, to_char(closed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD'), store, total_cents, points_earned,
       points_redeemed FROM tickets ORDER BY closed_at, id;
CREATE TRIGGER tickets_aggregate_pending AFTER INSERT ON tickets REFERENCING NEW TABLE AS stored
    FOR EACH STATEMENT EXECUTE FUNCTION aggregate_note_tickets();
"""

# server.analytics.dashboard; "end" is a reserved word on PostgreSQL: quoted there (and in every query)
DASHBOARD = """
CREATE TABLE IF NOT EXISTS dashboard_cache (
    start TEXT NOT NULL,
    end TEXT NOT NULL,
    version TEXT NOT NULL,
    body BLOB NOT NULL,
    computed_at TEXT,
    PRIMARY KEY (start, end)
) WITHOUT ROWID;
"""
DASHBOARD_PG = """
CREATE TABLE IF NOT EXISTS dashboard_cache (
    start TEXT NOT NULL,
    "end" TEXT NOT NULL,
    version TEXT NOT NULL,
    body BYTEA NOT NULL,
    computed_at TEXT,
    PRIMARY KEY (start, "end")
);
"""

# server.analytics.campaigns, server.analytics.offer_definitions, server.analytics.profile
CAMPAIGNS = """
CREATE TABLE IF NOT EXISTS campaigns (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    segment TEXT NOT NULL,
    kind TEXT NOT NULL,
    points INTEGER NOT NULL DEFAULT 0,
    cheque_cents INTEGER NOT NULL DEFAULT 0,
    starts TEXT NOT NULL,
    ends TEXT NOT NULL,
    stores TEXT NOT NULL DEFAULT '',
    control_per_mille INTEGER NOT NULL,
    seed INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    pushed_at TEXT,
    stopped_at TEXT
);
CREATE TABLE IF NOT EXISTS campaign_members (
    campaign_id INTEGER NOT NULL REFERENCES campaigns (id),
    customer TEXT NOT NULL,
    card TEXT NOT NULL,
    grp TEXT NOT NULL CHECK (grp IN ('target', 'control')),
    PRIMARY KEY (campaign_id, card)
) WITHOUT ROWID;
"""
OFFER_TYPES = """
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
    stopped_why TEXT
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
PROFILE = """
CREATE TABLE IF NOT EXISTS profile_store_mix (
    store TEXT NOT NULL,
    category TEXT NOT NULL,
    share REAL NOT NULL,
    promoted_share REAL NOT NULL,
    day TEXT NOT NULL,
    PRIMARY KEY (store, category)
);
CREATE TABLE IF NOT EXISTS profile_ranks (
    customer TEXT PRIMARY KEY,
    rfm TEXT NOT NULL,
    value_rank TEXT NOT NULL,
    day TEXT NOT NULL
);
"""

# server.analytics.archive; on PostgreSQL triggers note the tickets and ledger entries a batch will take
ARCHIVE = """
CREATE TABLE IF NOT EXISTS archive_target (
    id TEXT PRIMARY KEY,
    path TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS archive_batches (
    batch INTEGER PRIMARY KEY,
    first_ticket INTEGER NOT NULL,
    last_ticket INTEGER NOT NULL,
    first_ledger INTEGER NOT NULL,
    last_ledger INTEGER NOT NULL,
    claimed_at TEXT NOT NULL,
    done_at TEXT,
    tickets INTEGER,
    lines INTEGER,
    ledger INTEGER
);
"""
ARCHIVE_PG = """
CREATE TABLE IF NOT EXISTS archive_target (
    id TEXT PRIMARY KEY,
    path TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS archive_batches (
    batch BIGINT PRIMARY KEY,
    first_ticket BIGINT NOT NULL,
    last_ticket BIGINT NOT NULL,
    first_ledger BIGINT NOT NULL,
    last_ledger BIGINT NOT NULL,
    claimed_at TEXT NOT NULL,
    done_at TEXT,
    tickets BIGINT,
    lines BIGINT,
    ledger BIGINT
);

CREATE TABLE IF NOT EXISTS archive_pending_tickets (
    n BIGSERIAL PRIMARY KEY,
    id TEXT NOT NULL,
    closed_at TIMESTAMPTZ NOT NULL,
    batch BIGINT
);
CREATE INDEX IF NOT EXISTS archive_pending_tickets_batch ON archive_pending_tickets (batch);
CREATE TABLE IF NOT EXISTS archive_pending_ledger (
    n BIGSERIAL PRIMARY KEY,
    id BIGINT NOT NULL,
    batch BIGINT
);
CREATE INDEX IF NOT EXISTS archive_pending_ledger_batch ON archive_pending_ledger (batch);
CREATE OR REPLACE FUNCTION archive_note_tickets() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO archive_pending_tickets (id, closed_at) SELECT id, closed_at FROM stored;
    RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION archive_note_ledger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO archive_pending_ledger (id) SELECT id FROM stored;
    RETURN NULL;
END $$;
LOCK TABLE tickets IN SHARE ROW EXCLUSIVE MODE;
LOCK TABLE ledger IN SHARE ROW EXCLUSIVE MODE;
INSERT INTO archive_pending_tickets (id, closed_at) SELECT id, closed_at FROM tickets ORDER BY closed_at, id;
INSERT INTO archive_pending_ledger (id) SELECT id FROM ledger ORDER BY id;
CREATE TRIGGER tickets_archive_pending AFTER INSERT ON tickets REFERENCING NEW TABLE AS stored
    FOR EACH STATEMENT EXECUTE FUNCTION archive_note_tickets();
CREATE TRIGGER ledger_archive_pending AFTER INSERT ON ledger REFERENCING NEW TABLE AS stored
    FOR EACH STATEMENT EXECUTE FUNCTION archive_note_ledger();
"""

# server.analytics.replay
REPLAYS = """
CREATE TABLE IF NOT EXISTS dead_letter_replays (
    dead_letter_id INTEGER PRIMARY KEY,
    replayed_at TEXT NOT NULL,
    ticket_id TEXT NOT NULL,
    outcome TEXT NOT NULL
);
"""

# server.closures.verify: the closures imported from tills' archives
CLOSURES = """
CREATE TABLE IF NOT EXISTS closures (
    id INTEGER PRIMARY KEY,
    terminal TEXT NOT NULL,
    kind TEXT NOT NULL,
    number INTEGER NOT NULL,
    period TEXT NOT NULL,
    first_seq INTEGER NOT NULL,
    last_seq INTEGER NOT NULL,
    hash TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    imported_at TEXT NOT NULL,
    checked_at TEXT NOT NULL,
    payload BLOB NOT NULL,
    UNIQUE (terminal, kind, number, hash)
);
CREATE INDEX IF NOT EXISTS closures_period ON closures (terminal, period);
"""
