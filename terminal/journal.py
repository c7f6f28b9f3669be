"""The till's journal: tickets, lines, points entries and outbox in one SQLite file (WAL, FULL sync).

Closing a ticket is one transaction: the ticket, its lines, its ledger entries and the outbox
message commit together or not at all, and the sequence number has no holes.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import msgspec
import sqlite_utils
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from programme.ticket import (
    GENESIS_HASH,
    Line,
    PointsEntry,
    ReturnLink,
    Tender,
    Ticket,
    signed_points,
    store_of,
    ticket_hash,
    ticket_id,
    utc_now,
    validate_ticket,
)
from programme.ledger import ticket_cause
from programme.journal_event import KIND_CHAIN, JournalEvent, encode_event, event_hash, sign_event
from programme.signing import sign_ticket
from sync import outbox, topics
from sync.checkpoint import SAFETY_NET_PAGES, Checkpointer
from sync.codec import decode_ticket, encode_ticket
from sync.till_db import open_till_db, transaction

from . import cardstate

BUSY_TIMEOUT_MS = 30_000


def open_journal_db(path: str | Path) -> sqlite_utils.Database:
    """The journal, private (0600, and so its -wal and -shm files): it holds card numbers and purchases."""
    return sqlite_utils.Database(open_till_db(path, autocommit=True))


# Voids, cancellations, reprints, training tickets and archivings (programme/journal_event.py): append-only,
# chained per chain; `event_outbox` is their queue to head office (terminal/event_sender.py), acked apart
# from the tickets' outbox so the tickets' sequence keeps no holes.
EVENTS_SCHEMA = """
CREATE TABLE IF NOT EXISTS till_events (
    chain TEXT NOT NULL,
    seq INTEGER NOT NULL,
    kind TEXT NOT NULL,
    at TEXT NOT NULL,
    cashier TEXT NOT NULL,
    after_seq INTEGER NOT NULL,
    ticket_id TEXT,
    copy INTEGER NOT NULL,
    total_cents INTEGER NOT NULL,
    hash TEXT NOT NULL,
    payload BLOB NOT NULL,
    PRIMARY KEY (chain, seq)
);
CREATE INDEX IF NOT EXISTS till_events_ticket ON till_events (ticket_id);
CREATE TRIGGER IF NOT EXISTS till_events_no_update BEFORE UPDATE ON till_events
BEGIN SELECT RAISE(ABORT, 'the journal is append-only: an event is never changed'); END;
CREATE TRIGGER IF NOT EXISTS till_events_no_delete BEFORE DELETE ON till_events
BEGIN SELECT RAISE(ABORT, 'the journal is append-only: an event is never deleted'); END;
CREATE TABLE IF NOT EXISTS event_outbox (
    n INTEGER PRIMARY KEY,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    created_at TEXT NOT NULL,
    digest TEXT NOT NULL
);
"""


class Journal:
    def __init__(self, path: str | Path, terminal: str, signing_key: Ed25519PrivateKey | None = None):
        """`signing_key`: the till's Ed25519 key (loyalty till provision); every ticket is then signed."""
        self.path = str(path)
        self.terminal = terminal
        self.signing_key = signing_key
        self.store = store_of(terminal)
        self.db = open_journal_db(path)
        self.conn = self.db.conn
        self._create()
        # Checkpoints run on their own thread when the till pauses, not inside a close (sync/checkpoint.py).
        self.conn.execute(f"PRAGMA wal_autocheckpoint={SAFETY_NET_PAGES}")
        self.checkpointer = Checkpointer(self.path)

    def _create(self) -> None:
        db = self.db
        if "tickets" not in db.table_names():
            db["tickets"].create(
                {
                    "id": str,
                    "seq": int,
                    "terminal": str,
                    "store": str,
                    "cashier": str,
                    "closed_at": str,
                    "card": str,
                    "total_cents": int,
                    "points_earned": int,
                    "points_redeemed": int,
                    "rules_version": str,
                    "hash": str,
                    "payload": bytes,
                },
                pk="id",
                not_null={"seq", "terminal", "closed_at", "hash", "payload"},
            )
            db["tickets"].create_index(["seq"], unique=True)
            db["tickets"].create_index(["card"])
            db["lines"].create(
                {
                    "ticket_id": str,
                    "line_no": int,
                    "gtin": str,
                    "label": str,
                    "category": str,
                    "quantity": int,
                    "unit_cents": int,
                    "discount_cents": int,
                    "total_cents": int,
                },
                pk=("ticket_id", "line_no"),
            )
            db["ledger"].create(
                {
                    "id": int,
                    "card": str,
                    "kind": str,
                    "points": int,
                    "rule": str,
                    "cause": str,
                    "ticket_id": str,
                    "at": str,
                },
                pk="id",
                not_null={"card", "kind", "points", "cause"},
            )
            db["ledger"].create_index(["cause"], unique=True)
            db["ledger"].create_index(["card"])
        outbox.ensure_schema(self.conn)
        cardstate.ensure_schema(self.conn)
        # What was returned from which original line, and the receipt as printed (reprints copy it).
        self.conn.executescript(
            "CREATE TABLE IF NOT EXISTS returned_lines (return_id TEXT NOT NULL, original_id TEXT NOT NULL, "
            "line_no INTEGER NOT NULL, quantity INTEGER NOT NULL, points INTEGER NOT NULL, "
            "PRIMARY KEY (return_id, line_no));"
            "CREATE INDEX IF NOT EXISTS returned_lines_original ON returned_lines (original_id);"
            "CREATE TABLE IF NOT EXISTS receipts (ticket_id TEXT PRIMARY KEY, text TEXT NOT NULL);"
        )
        self.conn.executescript(EVENTS_SCHEMA)

    def close_ticket(
        self,
        *,
        cashier: str,
        lines: list[Line],
        tenders: list[Tender],
        card: str | None,
        points: list[PointsEntry],
        rules_version: str,
        opened_at: datetime | None = None,
        also: Callable[[sqlite3.Connection, Ticket], None] | None = None,
        returns: list[ReturnLink] | None = None,
    ) -> Ticket:
        """Give the ticket its sequence and write it, its ledger entries and its outbox message at once.

        `also` writes more rows about the ticket (a return's links) inside the same transaction;
        `returns`: a return's links to its original, carried by the ticket itself.
        """
        conn = self.conn
        closed_at = utc_now()
        with transaction(conn):
            ticket = self._next_ticket(
                cashier, lines, tenders, card, points, rules_version, opened_at or closed_at, closed_at, returns
            )
            payload = encode_ticket(ticket)
            self._insert_ticket(ticket, payload)
            outbox.enqueue(conn, ticket.seq, topics.tickets(self.terminal), payload, closed_at.isoformat())
            if also is not None:
                also(conn, ticket)
        self.checkpointer.nudge()
        return ticket

    def _next_ticket(
        self,
        cashier: str,
        lines: list[Line],
        tenders: list[Tender],
        card: str | None,
        points: list[PointsEntry],
        rules_version: str,
        opened_at: datetime,
        closed_at: datetime,
        returns: list[ReturnLink] | None,
    ) -> Ticket:
        """The ticket after the journal's last (its sequence, chained to its hash), checked and signed.
        Inside close_ticket's transaction, which holds the journal so no other ticket takes the sequence."""
        row = self.conn.execute("SELECT seq, hash FROM tickets ORDER BY seq DESC LIMIT 1").fetchone()
        seq, prev_hash = (row[0] + 1, row[1]) if row else (1, GENESIS_HASH)
        ticket = Ticket(
            id=ticket_id(self.terminal, seq),
            terminal=self.terminal,
            seq=seq,
            store=self.store,
            cashier=cashier,
            opened_at=opened_at,
            closed_at=closed_at,
            lines=lines,
            tenders=tenders,
            total_cents=sum(line.total_cents for line in lines),
            card=card,
            points=points,
            rules_version=rules_version,
            prev_hash=prev_hash,
            returns=returns or msgspec.UNSET,
        )
        validate_ticket(ticket)
        if self.signing_key is not None:
            ticket = sign_ticket(ticket, self.signing_key)
        return ticket

    def _insert_ticket(self, ticket: Ticket, payload: bytes) -> None:
        """The ticket's row, its lines and its ledger entries (one per points entry, caused by ticket_cause)."""
        conn, closed = self.conn, ticket.closed_at.isoformat()
        conn.execute(
            "INSERT INTO tickets (id, seq, terminal, store, cashier, closed_at, card, total_cents, "
            "points_earned, points_redeemed, rules_version, hash, payload) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                ticket.id,
                ticket.seq,
                ticket.terminal,
                ticket.store,
                ticket.cashier,
                closed,
                ticket.card,
                ticket.total_cents,
                ticket.points_earned,
                ticket.points_redeemed,
                ticket.rules_version,
                ticket_hash(ticket),
                payload,
            ),
        )
        conn.executemany(
            "INSERT INTO lines VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    ticket.id,
                    n,
                    li.gtin,
                    li.label,
                    li.category,
                    li.quantity,
                    li.unit_cents,
                    li.discount_cents,
                    li.total_cents,
                )
                for n, li in enumerate(ticket.lines)
            ],
        )
        conn.executemany(
            "INSERT INTO ledger (card, kind, points, rule, cause, ticket_id, at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (ticket.card, e.kind, signed_points(e), e.rule, ticket_cause(ticket.id, n), ticket.id, closed)
                for n, e in enumerate(ticket.points)
            ],
        )

    def record_event(
        self,
        kind: str,
        *,
        cashier: str,
        lines: list[Line] | None = None,
        ticket_id: str | None = None,
        copy: int = 0,
        detail: str = "",
        at: datetime | None = None,
    ) -> JournalEvent:
        """Journal one event in its chain (signed when the till has its key) and queue it for head office,
        in one transaction."""
        lines = list(lines or [])
        chain = KIND_CHAIN[kind]
        conn = self.conn
        at = at or utc_now()
        with transaction(conn):
            row = conn.execute(
                "SELECT seq, hash FROM till_events WHERE chain = ? ORDER BY seq DESC LIMIT 1", (chain,)
            ).fetchone()
            seq, prev_hash = (row[0] + 1, row[1]) if row else (1, GENESIS_HASH)
            after_seq = conn.execute("SELECT coalesce(max(seq), 0) FROM tickets").fetchone()[0]
            event = JournalEvent(
                terminal=self.terminal,
                chain=chain,
                seq=seq,
                kind=kind,
                at=at,
                store=self.store,
                cashier=cashier,
                after_seq=after_seq,
                ticket_id=ticket_id,
                copy=copy,
                lines=lines,
                total_cents=sum(line.total_cents for line in lines),
                detail=detail,
                prev_hash=prev_hash,
            )
            if self.signing_key is not None:
                event = sign_event(event, self.signing_key)
            payload = encode_event(event)
            conn.execute(
                "INSERT INTO till_events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    chain,
                    seq,
                    kind,
                    at.isoformat(),
                    cashier,
                    after_seq,
                    ticket_id,
                    copy,
                    event.total_cents,
                    event_hash(event),
                    payload,
                ),
            )
            conn.execute(
                "INSERT INTO event_outbox (topic, payload, created_at, digest) VALUES (?, ?, ?, ?)",
                (topics.events(self.terminal), payload, at.isoformat(), hashlib.sha256(payload).hexdigest()),
            )
        return event

    def events(self, chain: str | None = None) -> list[JournalEvent]:
        from programme.journal_event import decode_event

        sql = "SELECT payload FROM till_events" + (" WHERE chain = ?" if chain else "") + " ORDER BY chain, seq"
        return [decode_event(row[0]) for row in self.conn.execute(sql, (chain,) if chain else ())]

    # -- reads -----------------------------------------------------------------------------------
    def ticket_count(self) -> int:
        return self.conn.execute("SELECT count(*) FROM tickets").fetchone()[0]

    def last_seq(self) -> int:
        return self.conn.execute("SELECT coalesce(max(seq), 0) FROM tickets").fetchone()[0]

    def find_ticket(self, ticket_id: str) -> Ticket | None:
        row = self.conn.execute("SELECT payload FROM tickets WHERE id = ?", (ticket_id,)).fetchone()
        return decode_ticket(row[0], self.terminal) if row else None

    def backlog(self) -> int:
        return outbox.backlog(self.conn)

    def totals(self) -> dict[str, int]:
        tickets, cents, earned = self.conn.execute(
            "SELECT count(*), coalesce(sum(total_cents), 0), coalesce(sum(points_earned), 0) FROM tickets"
        ).fetchone()
        return {"tickets": tickets, "total_cents": cents, "points_earned": earned}

    def close(self) -> None:
        self.checkpointer.stop()
        self.conn.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
