"""The desk's tables beside the ticket store, in the same database: users, API tokens, log-in throttling,
customers, cards, the audit trail. Written once in SQLite's spelling; PostgreSQL's is derived. Applied by the
numbered migrations (server.storage.migrations)."""

from __future__ import annotations

from server.storage.ddl import postgres_schema

DESK_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at TEXT NOT NULL,
    active INTEGER NOT NULL DEFAULT 1,
    session_version INTEGER NOT NULL DEFAULT 0,
    language TEXT
);
CREATE TABLE IF NOT EXISTS api_tokens (
    token_hash TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users (id),
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS login_throttle (
    name TEXT NOT NULL,
    address TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_at TEXT NOT NULL,
    last_at TEXT NOT NULL,
    PRIMARY KEY (name, address)
);
CREATE TABLE IF NOT EXISTS customers (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    email TEXT,
    phone TEXT,
    postcode TEXT,
    birth_date TEXT,
    consent_email INTEGER NOT NULL DEFAULT 0,
    consent_email_at TEXT,
    consent_sms INTEGER NOT NULL DEFAULT 0,
    consent_sms_at TEXT,
    consent_profiling INTEGER NOT NULL DEFAULT 0,
    consent_profiling_at TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    merged_into INTEGER REFERENCES customers (id),
    erased_at TEXT
);
CREATE INDEX IF NOT EXISTS customers_name ON customers (name COLLATE NOCASE);
CREATE INDEX IF NOT EXISTS customers_phone ON customers (phone);
CREATE INDEX IF NOT EXISTS customers_postcode ON customers (postcode);
CREATE TABLE IF NOT EXISTS cards (
    number TEXT PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers (id),
    status TEXT NOT NULL,
    issued_at TEXT NOT NULL,
    status_at TEXT NOT NULL,
    replaced_by TEXT
);
CREATE INDEX IF NOT EXISTS cards_customer ON cards (customer_id);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    customer_id INTEGER,
    card TEXT,
    reason TEXT NOT NULL DEFAULT '',
    detail TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS audit_customer ON audit (customer_id);
"""


DESK_SCHEMA_PG = postgres_schema(DESK_SCHEMA)  # the same tables in PostgreSQL's spelling (server.storage.ddl)
