"""The ticket store on SQLite: synced tickets written once, with their checks (tables: server.storage.ticket_schema).

Ingest writes a whole batch of tickets in one transaction, idempotently on (terminal, sequence)
and on ticket id; sequences are tracked per terminal to ack cumulatively and find gaps.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


from programme.signing import load_public_key
from programme.ticket import Ticket, ticket_hash
from sync.checkpoint import SAFETY_NET_PAGES, Checkpointer
from sync.codec import payload_digest

from server.ingest.overdraft import count as overdraft_count, record_overdrafts
from server.ingest.precheck import Precheck, precheck, prechecked, signature_error
from server.ingest.returns_check import record_returns
from server.ingest.rules_check import RulesCatalog, book_points, release_held
from server.ingest.store_rows import LINE_COLUMNS, chain_breaks, chunks, line_rows, ticket_row
from server.storage.connection import Connection, connect_sqlite, transaction
from server.desk.cheque_book import record_cheques, summary as cheque_summary

CHECKPOINT_EVERY_BATCHES = 8  # in a busy spell; else once ingest pauses (sync/checkpoint.py)

TICKET_INSERT = (
    "INSERT OR IGNORE INTO tickets (id, terminal, seq, store, cashier, closed_at, card, total_cents, "
    "points_earned, points_redeemed, rules_version, hash, prev_hash, received_at, payload) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


@dataclass
class DeadLetter:
    topic: str
    reason: str
    payload: bytes
    terminal: str | None = None
    seq: int | None = None


@dataclass
class BatchResult:
    stored: int = 0
    duplicates: int = 0
    dead_letters: int = 0
    quarantined: int = 0
    # terminal -> highest contiguous sequence after the batch (for acks)
    acks: dict[str, int] = field(default_factory=dict)
    # terminal -> first missing sequence (for resend requests)
    gaps: dict[str, int] = field(default_factory=dict)


UNREGISTERED = (
    "till {terminal} is not registered: register its key with `loyalty server register-till` "
    "(then `loyalty server requeue` takes its quarantined tickets)"
)


class StoreBase:
    """What the two ticket stores share, written once against sqlite3's connection API (a PgConnection on
    PostgreSQL): tills' keys and quarantine, requeue, the points check, sequences and acks, balances, stats.
    Each store writes its batches its own way (`ingest`, `_insert_ledger`)."""

    conn: Connection
    require_registered: bool
    _keys: dict | None
    _keys_mark: tuple | None
    _rules: RulesCatalog | None

    def _insert_ledger(self, rows: list[tuple]) -> None:
        raise NotImplementedError

    # -- signatures and chains -------------------------------------------------------------------
    def register_till(self, terminal: str, public_key: str, now: str) -> None:
        """From now on every ticket of `terminal` must carry a valid signature of this key."""
        load_public_key(public_key)
        with self.conn:
            self.conn.execute(
                "INSERT INTO till_keys VALUES (?, ?, ?) ON CONFLICT(terminal) DO UPDATE SET "
                "public_key = excluded.public_key, registered_at = excluded.registered_at",
                (terminal, public_key, now),
            )
        self._keys = None

    def _till_keys(self) -> dict:
        """The registered tills' keys, read again when a till was registered since (by any process).

        One small query a batch: `loyalty server register-till` while the server runs takes effect at
        its next batch, not at its next start. A reload is a new dict (server/ingest/precheck.py relies on it)."""
        mark = tuple(self.conn.execute("SELECT count(*), max(registered_at) FROM till_keys").fetchone())
        if self._keys is None or mark != self._keys_mark:
            self._keys = {
                t: load_public_key(k) for t, k in self.conn.execute("SELECT terminal, public_key FROM till_keys")
            }
            self._keys_mark = mark
        return self._keys

    def precheck(self, ticket: Ticket) -> Precheck:
        """server.ingest.precheck's checks with the keys and rules loaded now: callable from any thread, no database."""
        return precheck(ticket, self._keys, self._rules)

    def _quarantined(self, ticket: Ticket, keys: dict, payload: bytes, now: str, pre: Precheck | None = None) -> bool:
        """Keep aside a ticket whose signature fails, or of an unregistered till when registration is
        required (flagged, visible, never dropped); its sequence counts."""
        if ticket.terminal in keys:
            reason = pre.signature_for(keys) if pre is not None else False
            if reason is False:
                reason = signature_error(ticket, keys[ticket.terminal])
        elif self.require_registered:
            reason = UNREGISTERED.format(terminal=ticket.terminal)
        else:
            return False
        if reason is None:
            return False
        conn = self.conn
        if conn.execute(
            "INSERT OR IGNORE INTO received VALUES (?, ?, 'quarantined', ?)",
            (ticket.terminal, ticket.seq, payload_digest(payload)),
        ).rowcount:
            conn.execute(
                "INSERT INTO quarantine (received_at, terminal, seq, ticket_id, reason, payload) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (now, ticket.terminal, ticket.seq, ticket.id, reason, payload),
            )
        return True

    def requeue(self, now: str) -> dict:
        """Ingest again the quarantined tickets not stored since (a till registered after it sent them,
        a key registered again): those that pass now are stored, the others stay in quarantine."""
        from sync.codec import decode_ticket
        from sync.errors import CodecError
        from sync.topics import tickets as tickets_topic

        pending = self.conn.execute(
            "SELECT DISTINCT q.ticket_id, q.payload FROM quarantine q WHERE NOT EXISTS "
            "(SELECT 1 FROM tickets t WHERE t.id = q.ticket_id) ORDER BY q.ticket_id"
        ).fetchall()
        good = []
        for _, payload in pending:
            try:
                ticket = decode_ticket(bytes(payload))
            except CodecError:
                continue  # it was valid when quarantined; a stricter schema since keeps it there
            good.append((tickets_topic(ticket.terminal), ticket, bytes(payload)))
        result = self.ingest(good, [], now) if good else BatchResult()
        if result.stored:
            with self.conn:
                self.conn.executemany(
                    "UPDATE received SET status = 'stored' WHERE terminal = ? AND seq = ? AND status = 'quarantined' "
                    "AND EXISTS (SELECT 1 FROM tickets t WHERE t.terminal = received.terminal "
                    "AND t.seq = received.seq)",
                    [(t.terminal, t.seq) for _, t, _ in good],
                )
        return {"quarantined": len(pending), "stored": result.stored, "still_quarantined": len(pending) - result.stored}

    def _book_points(self, tickets: list[Ticket], now: str, known: dict | None = None) -> None:
        """Check each ticket's points with its rules version and book what the rules give
        (server/ingest/rules_check.py; `known`: ticket id -> prechecked verdict); credit held points that
        became verifiable (server/ingest/held.py)."""
        if self._rules is None:
            self._rules = RulesCatalog()
        catalog = self._rules.refresh(self.conn)
        book_points(self.conn, catalog, tickets, now, known, self._insert_ledger)
        if catalog.grown:  # a version was recorded since (or this is the first batch)
            release_held(self.conn, catalog, now, self._insert_ledger)

    def _advance(self, terminal: str, now: str, result: BatchResult) -> None:
        conn = self.conn
        row = conn.execute("SELECT contiguous_seq FROM terminals WHERE terminal = ?", (terminal,)).fetchone()
        contiguous = row[0] if row else 0
        while True:
            seqs = [
                r[0]
                for r in conn.execute(
                    "SELECT seq FROM received WHERE terminal = ? AND seq > ? ORDER BY seq LIMIT 1000",
                    (terminal, contiguous),
                )
            ]
            run = 0
            for expected, seq in enumerate(seqs, start=contiguous + 1):
                if seq != expected:
                    break
                run += 1
            contiguous += run
            if run < 1000:
                break
        max_seq = conn.execute("SELECT coalesce(max(seq), 0) FROM received WHERE terminal = ?", (terminal,)).fetchone()[
            0
        ]
        conn.execute(
            "INSERT INTO terminals (terminal, contiguous_seq, max_seq, last_seen) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(terminal) DO UPDATE SET contiguous_seq = excluded.contiguous_seq, "
            "max_seq = excluded.max_seq, last_seen = excluded.last_seen",
            (terminal, contiguous, max_seq, now),
        )
        conn.execute(
            "UPDATE gaps SET resolved_at = ? WHERE terminal = ? AND resolved_at IS NULL AND to_seq <= ?",
            (now, terminal, contiguous),
        )
        result.acks[terminal] = contiguous
        if max_seq > contiguous:
            next_present = conn.execute(
                "SELECT min(seq) FROM received WHERE terminal = ? AND seq > ?", (terminal, contiguous + 1)
            ).fetchone()[0]
            conn.execute(
                "INSERT INTO gaps (terminal, from_seq, to_seq, detected_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(terminal, from_seq) DO UPDATE SET to_seq = excluded.to_seq",
                (terminal, contiguous + 1, next_present - 1, now),
            )
            result.gaps[terminal] = contiguous + 1

    # -- reads -----------------------------------------------------------------------------------
    def acks(self) -> dict[str, int]:
        return dict(self.conn.execute("SELECT terminal, contiguous_seq FROM terminals").fetchall())

    def balances(self, cards: list[str]) -> dict[str, int]:
        return card_balances(self.conn, cards)

    def balances_for_till(self, terminal: str, cards: list[str]) -> tuple[dict[str, int], int]:
        """What a till must add its own tickets to: see `balances_seen_by`."""
        return balances_seen_by(self.conn, terminal, cards)

    def max_seq(self, terminal: str) -> int:
        row = self.conn.execute("SELECT max_seq FROM terminals WHERE terminal = ?", (terminal,)).fetchone()
        return row[0] if row else 0

    def ack_digest(self, terminal: str, seq: int) -> str | None:
        """SHA-256 of the message received as `seq`: an ack names it so a till never takes another's ack."""
        row = self.conn.execute(
            "SELECT digest FROM received WHERE terminal = ? AND seq = ?", (terminal, seq)
        ).fetchone()
        return row[0] if row else None

    def ticket_count(self) -> int:
        return self.conn.execute("SELECT count(*) FROM tickets").fetchone()[0]

    def stats(self) -> dict:
        conn = self.conn
        tickets, cents, earned, redeemed = conn.execute(
            "SELECT count(*), coalesce(sum(total_cents), 0), coalesce(sum(points_earned), 0), "
            "coalesce(sum(points_redeemed), 0) FROM tickets"
        ).fetchone()
        terminals = {}
        for terminal, contiguous, max_seq, last_seen in conn.execute(
            "SELECT terminal, contiguous_seq, max_seq, last_seen FROM terminals ORDER BY terminal"
        ):
            missing = []
            if max_seq > contiguous:
                present = [
                    r[0]
                    for r in conn.execute(
                        "SELECT seq FROM received WHERE terminal = ? AND seq > ? ORDER BY seq", (terminal, contiguous)
                    )
                ]
                expected = contiguous + 1
                for seq in present:
                    if seq > expected:
                        missing.append([expected, seq - 1])
                    expected = seq + 1
            terminals[terminal] = {
                "contiguous_seq": contiguous,
                "max_seq": max_seq,
                "gaps": missing,
                "last_seen": last_seen,
            }
        return {
            "tickets": tickets,
            "lines": conn.execute("SELECT count(*) FROM lines").fetchone()[0],
            "total_cents": cents,
            "points_earned": earned,
            "points_redeemed": redeemed,
            "dead_letters": conn.execute("SELECT count(*) FROM dead_letters").fetchone()[0],
            "gaps_detected": conn.execute("SELECT count(*) FROM gaps").fetchone()[0],
            "quarantined": conn.execute("SELECT count(*) FROM quarantine").fetchone()[0],
            "chain_breaks": conn.execute("SELECT count(*) FROM chain_breaks").fetchone()[0],
            "overdrafts": overdraft_count(conn),
            "cheques": cheque_summary(conn),
            "points_held": dict(
                zip(
                    ("tickets", "points"),
                    conn.execute(
                        "SELECT count(*), coalesce(sum(points), 0) FROM held_points WHERE released_at IS NULL"
                    ).fetchone(),
                )
            ),
            "terminals": terminals,
        }


class Store(StoreBase):
    """The ticket store on SQLite (WAL): a batch in one transaction, checkpoints on a thread of their own."""

    def __init__(self, path: str | Path, require_registered: bool = False):
        """`require_registered`: quarantine the tickets of tills with no registered key (`loyalty server`
        does, outside the demo): on an open broker anyone could otherwise invent a till and credit cards."""
        self.path = str(path)
        self.require_registered = require_registered
        self.db = connect_sqlite(path)
        self.conn = self.db.conn
        self._keys: dict | None = None
        self._keys_mark: tuple | None = None
        self._rules = None  # server.ingest.rules_check.RulesCatalog, built on the first batch
        # Ingest's commits do not checkpoint: a thread of its own does, beside the next batch.
        self.conn.execute(f"PRAGMA wal_autocheckpoint={SAFETY_NET_PAGES}")
        self.checkpointer = Checkpointer(self.path, every_commits=CHECKPOINT_EVERY_BATCHES)

    def close(self) -> None:
        self.checkpointer.stop()
        self.conn.close()

    # -- ingest ----------------------------------------------------------------------------------
    def ingest(self, tickets: list[tuple], dead: list[DeadLetter], now: str) -> BatchResult:
        """Write a batch in one transaction: (topic, ticket, payload[, Precheck]) items and dead letters."""
        result = BatchResult()
        conn = self.conn
        touched: set[str] = set()
        with transaction(conn):
            rows, received, lines, checked, known = [], [], [], [], {}
            keys = self._till_keys()
            ordered = sorted(tickets, key=lambda t: (t[1].terminal, t[1].seq))
            stored_hashes = self._stored_hashes([item[1].id for item in ordered])
            batch: dict[tuple[str, int], tuple[str, str]] = {}  # (terminal, seq) -> (hash, prev_hash)
            for item in ordered:
                topic, ticket, payload = item[:3]
                pre = prechecked(item)
                touched.add(ticket.terminal)
                if self._quarantined(ticket, keys, payload, now, pre):
                    result.quarantined += 1
                    continue
                digest = pre.digest if pre is not None else ticket_hash(ticket)
                if ticket.id in stored_hashes:
                    if stored_hashes[ticket.id] != digest:
                        dead.append(
                            DeadLetter(
                                topic,
                                f"conflicting duplicate: ticket {ticket.id} was already stored with different content",
                                payload,
                            )
                        )
                    result.duplicates += 1
                    continue
                stored_hashes[ticket.id] = digest
                batch[(ticket.terminal, ticket.seq)] = (digest, ticket.prev_hash)
                result.stored += 1
                checked.append(ticket)
                if pre is not None and pre.points_checked:
                    known[ticket.id] = pre.discrepancy
                rows.append(ticket_row(ticket, digest, now, payload))
                received.append((ticket.terminal, ticket.seq, payload_digest(payload)))
                lines.extend(line_rows(ticket))
            conn.executemany(TICKET_INSERT, rows)
            conn.executemany("INSERT OR IGNORE INTO received VALUES (?, ?, 'stored', ?)", received)
            self._check_chains(batch, now)
            conn.executemany(f"INSERT INTO lines ({LINE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", lines)
            self._book_points(checked, now, known)
            record_returns(conn, checked, now)
            record_overdrafts(conn, checked, now)  # reservations used, cards overdrawn
            record_cheques(conn, checked, now)  # cheques issued and spent (server/desk/cheque_book.py)
            for letter in dead:
                conn.execute(
                    "INSERT INTO dead_letters (received_at, topic, terminal, seq, reason, payload) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (now, letter.topic, letter.terminal, letter.seq, letter.reason, letter.payload),
                )
                if letter.terminal is not None and letter.seq is not None and letter.seq > 0:
                    # Kept here, so the till may forget it: otherwise one poison message blocks its acks.
                    conn.execute(
                        "INSERT OR IGNORE INTO received VALUES (?, ?, 'dead', ?)",
                        (letter.terminal, letter.seq, payload_digest(letter.payload)),
                    )
                    touched.add(letter.terminal)
            result.dead_letters = len(dead)
            for terminal in touched:
                self._advance(terminal, now, result)
        self.checkpointer.nudge()
        return result

    def _stored_hashes(self, ids: list[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for chunk in chunks(ids):
            found.update(
                self.conn.execute(
                    f"SELECT id, hash FROM tickets WHERE id IN ({','.join('?' * len(chunk))})", chunk
                ).fetchall()
            )
        return found

    def _check_chains(self, batch: dict[tuple[str, int], tuple[str, str]], now: str) -> None:
        """Each ticket names the previous one's hash: record any link that does not hold.

        Links inside the batch are checked in memory; the database is asked only at the ends of runs.
        """
        conn = self.conn

        def hash_of(terminal: str, seq: int) -> str | None:
            if (terminal, seq) in batch:
                return batch[(terminal, seq)][0]
            row = conn.execute("SELECT hash FROM tickets WHERE terminal = ? AND seq = ?", (terminal, seq)).fetchone()
            return row[0] if row else None

        def prev_hash_of(terminal: str, seq: int) -> str | None:
            row = conn.execute(
                "SELECT prev_hash FROM tickets WHERE terminal = ? AND seq = ?", (terminal, seq)
            ).fetchone()
            return row[0] if row else None

        breaks = []
        for (terminal, seq), (digest, prev_hash) in batch.items():
            after = None if (terminal, seq + 1) in batch else prev_hash_of(terminal, seq + 1)
            breaks.extend(
                (*found, now)
                for found in chain_breaks(terminal, seq, digest, prev_hash, hash_of(terminal, seq - 1), after)
            )
        conn.executemany(
            "INSERT OR IGNORE INTO chain_breaks (terminal, seq, expected_prev_hash, found_prev_hash, "
            "detected_at) VALUES (?, ?, ?, ?, ?)",
            breaks,
        )

    def _insert_ledger(self, rows: list[tuple]) -> None:
        self.conn.executemany(
            "INSERT OR IGNORE INTO ledger (card, kind, points, rule, cause, ticket_id, at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            rows,
        )

    def dead_letters(self) -> list[dict]:
        return [
            dict(r)
            for r in self.db.query(
                "SELECT id, received_at, topic, terminal, seq, reason, length(payload) AS size "
                "FROM dead_letters ORDER BY id"
            )
        ]


def balances_seen_by(conn, terminal: str, cards: list[str]) -> tuple[dict[str, int], int]:
    """The cards' balances as `terminal` must see them, and the sequence they include of that till.

    The till adds its own tickets after that sequence (terminal/cardstate.py). The sequence is the
    till's contiguous one, not the highest held: past a gap, the server may hold some of the till's
    later tickets and not others, so their points are taken out here and the till adds them all,
    each exactly once. Works on SQLite and, through its adapter, on PostgreSQL.
    """
    found = card_balances(conn, cards)
    row = conn.execute("SELECT contiguous_seq, max_seq FROM terminals WHERE terminal = ?", (terminal,)).fetchone()
    contiguous, highest = (row[0], row[1]) if row else (0, 0)
    if highest > contiguous:
        for chunk in chunks(cards):
            for card, points in conn.execute(
                f"SELECT l.card, sum(l.points) FROM ledger l JOIN tickets t ON t.id = l.ticket_id "
                f"WHERE t.terminal = ? AND t.seq > ? AND l.card IN ({','.join('?' * len(chunk))}) GROUP BY l.card",
                (terminal, contiguous, *chunk),
            ).fetchall():
                found[card] = found.get(card, 0) - points
    return found, contiguous


def card_balances(conn, cards: list[str]) -> dict[str, int]:
    """Each card's balance: the sum of its ledger entries, kept in `card_points` (a card never credited: absent)."""
    found: dict[str, int] = {}
    for chunk in chunks(cards):
        found.update(
            conn.execute(
                f"SELECT card, points FROM card_points WHERE card IN ({','.join('?' * len(chunk))})", chunk
            ).fetchall()
        )
    return found
