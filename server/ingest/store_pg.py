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
from server.ingest.store import BatchResult, DeadLetter, StoreBase
from server.ingest.returns_check import record_returns
from server.ingest.store_rows import LINE_COLUMNS, chain_breaks, line_rows, ticket_row
from server.storage.connection import connect_pg
from server.desk.cheque_book import record_cheques

PARTITION_LOCK = 0x10CA18  # advisory lock id: partitions are created by one worker at a time

TICKET_COLUMNS = (
    "id, terminal, seq, store, cashier, closed_at, card, total_cents, points_earned, "
    "points_redeemed, rules_version, hash, prev_hash, received_at, payload"
)


def month_of(moment: datetime) -> tuple[int, int]:
    utc = moment.astimezone(timezone.utc)
    return utc.year, utc.month


def partition_ddl(year: int, month: int) -> str:
    following = (year + 1, 1) if month == 12 else (year, month + 1)
    return (
        f"CREATE TABLE IF NOT EXISTS tickets_{year:04d}_{month:02d} PARTITION OF tickets FOR VALUES "
        f"FROM ('{year:04d}-{month:02d}-01 00:00+00') TO ('{following[0]:04d}-{following[1]:02d}-01 00:00+00')"
    )


class PgStore(StoreBase):
    """The ticket store on PostgreSQL (StoreBase's shared code through PgConnection); `target` is a
    postgresql:// URL (libpq's)."""

    def __init__(self, target: str, require_registered: bool = False):
        self.path = self.url = target
        self.require_registered = require_registered
        self.conn = PgConnection(connect_pg(target))
        self._keys: dict | None = None
        self._keys_mark: tuple | None = None
        self._rules = None
        self._months: set[tuple[int, int]] = set()

    def close(self) -> None:
        self.conn.close()

    def dead_letters(self) -> list[dict]:
        with self.conn.raw.cursor(row_factory=dict_row) as cur:
            return cur.execute(
                "SELECT id, received_at, topic, terminal, seq, reason, length(payload) AS size "
                "FROM dead_letters ORDER BY id"
            ).fetchall()

    # -- ingest ----------------------------------------------------------------------------------
    def ingest(self, tickets: list[tuple], dead: list[DeadLetter], now: str) -> BatchResult:
        """Write a batch in one transaction: (topic, ticket, payload[, Precheck]) items and dead letters."""
        if self.conn.raw.closed:  # the server went away during an earlier batch: the caller retries
            self.conn = PgConnection(connect_pg(self.url))
        raw = self.conn.raw
        result = BatchResult()
        ordered = sorted(tickets, key=lambda t: (t[1].terminal, t[1].seq))
        touched = {item[1].terminal for item in ordered} | {
            d.terminal for d in dead if d.terminal is not None and d.seq is not None and d.seq > 0
        }
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
                raw.execute(
                    "INSERT INTO dead_letters (received_at, topic, terminal, seq, reason, payload) "
                    "VALUES (%s, %s, %s, %s, %s, %s)",
                    (now, letter.topic, letter.terminal, letter.seq, letter.reason, letter.payload),
                )
                if letter.terminal is not None and letter.seq is not None and letter.seq > 0:
                    raw.execute(
                        "INSERT INTO received VALUES (%s, %s, 'dead', %s) ON CONFLICT DO NOTHING",
                        (letter.terminal, letter.seq, payload_digest(letter.payload)),
                    )
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
        inserted = {
            r[0]
            for r in self.conn.raw.execute(
                "INSERT INTO ticket_keys (id, terminal, seq, hash, prev_hash) "
                "SELECT id, terminal, seq, hash, prev_hash FROM unnest(%s::text[], %s::text[], %s::bigint[], "
                "%s::text[], %s::text[]) WITH ORDINALITY AS u(id, terminal, seq, hash, prev_hash, n) ORDER BY n "
                "ON CONFLICT DO NOTHING RETURNING id",
                (
                    [t.id for _, t, _, _ in candidates],
                    [t.terminal for _, t, _, _ in candidates],
                    [t.seq for _, t, _, _ in candidates],
                    [d for _, _, _, d in candidates],
                    [t.prev_hash for _, t, _, _ in candidates],
                ),
                binary=True,
            )
        }
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
            (
                [t.id for _, t, _, _ in duplicates],
                [t.terminal for _, t, _, _ in duplicates],
                [t.seq for _, t, _, _ in duplicates],
            ),
            binary=True,
        ):
            by_id[ticket_id] = by_seq[(terminal, seq)] = digest
        for topic, ticket, payload, digest in duplicates:
            existing = by_id.get(ticket.id) or by_seq.get((ticket.terminal, ticket.seq))
            if existing is not None and existing != digest:
                dead.append(
                    DeadLetter(
                        topic,
                        f"conflicting duplicate: ticket {ticket.id} was already stored with different content",
                        payload,
                    )
                )

    def _write(self, stored: list, now: str, known: dict) -> None:
        """COPY the stored tickets and their lines; ledger, received sequences, chain links, points check."""
        if not stored:
            return
        raw = self.conn.raw
        with raw.cursor() as cur:
            with cur.copy(f"COPY tickets ({TICKET_COLUMNS}) FROM STDIN") as copy:
                for _, ticket, payload, digest in stored:
                    copy.write_row(ticket_row(ticket, digest, now, payload))
            with cur.copy(f"COPY lines ({LINE_COLUMNS}) FROM STDIN") as copy:
                for _, ticket, _, _ in stored:
                    for row in line_rows(ticket):
                        copy.write_row(row)
            cur.execute(
                "INSERT INTO received SELECT terminal, seq, 'stored', digest "
                "FROM unnest(%s::text[], %s::bigint[], %s::text[]) AS u(terminal, seq, digest) "
                "ON CONFLICT DO NOTHING",
                (
                    [t.terminal for _, t, _, _ in stored],
                    [t.seq for _, t, _, _ in stored],
                    [payload_digest(p) for _, _, p, _ in stored],
                ),
                binary=True,
            )
            self._check_chains(cur, stored, now)
        checked = [ticket for _, ticket, _, _ in stored]
        self._book_points(checked, now, known)
        record_returns(self.conn, checked, now)
        record_cheques(self.conn, checked, now)

    def _check_chains(self, cur: psycopg.Cursor, stored: list, now: str) -> None:
        """Each ticket names the previous one's hash: record any link that does not hold (all keys are in)."""
        neighbours = cur.execute(
            "SELECT b.hash, a.prev_hash FROM unnest(%s::text[], %s::bigint[]) WITH ORDINALITY AS s(terminal, seq, n) "
            "LEFT JOIN ticket_keys b ON b.terminal = s.terminal AND b.seq = s.seq - 1 "
            "LEFT JOIN ticket_keys a ON a.terminal = s.terminal AND a.seq = s.seq + 1 ORDER BY s.n",
            ([t.terminal for _, t, _, _ in stored], [t.seq for _, t, _, _ in stored]),
            binary=True,
        ).fetchall()
        breaks = [
            (*found, now)
            for (_, ticket, _, digest), (before, after) in zip(stored, neighbours)
            for found in chain_breaks(ticket.terminal, ticket.seq, digest, ticket.prev_hash, before, after)
        ]
        if breaks:
            cur.executemany(
                "INSERT INTO chain_breaks (terminal, seq, expected_prev_hash, found_prev_hash, "
                "detected_at) VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                breaks,
            )

    def _insert_ledger(self, rows: list[tuple]) -> None:
        """A claimed ticket is new, so are its ledger causes (ticket:ID:N): COPY, no conflict to skip.
        Held points released later are new causes too (server/ingest/held.py)."""
        if not rows:
            return
        with self.conn.raw.cursor() as cur:
            with cur.copy("COPY ledger (card, kind, points, rule, cause, ticket_id, at) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
