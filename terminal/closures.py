"""Closing a day, a month or a year at the till: the closure is computed from the journal's tickets and
events, signed with the till's key and kept in the journal's `closures` table (append-only, chained per
kind); a period's archive is exported from the journal as a signed JSON Lines file, and each archiving is
itself a journaled event. Archived data is kept RETENTION_YEARS; purging younger data is refused.
"""

from __future__ import annotations

import hashlib
import sqlite3
from datetime import datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from programme import archive
from programme.closure import (
    KINDS,
    Closure,
    ClosureError,
    closure_hash,
    decode_closure,
    encode_closure,
    kind_of,
    make_closure,
    period_bounds,
    select_period,
    sign_closure,
    verify_chain,
)
from programme.signing import public_key_text
from programme.ticket import Ticket, utc_now
from sync.codec import decode_ticket
from sync.safe_files import UnsafeFileError, read_regular, refuse_link, write_private
from sync.till_db import transaction

from .errors import TillError
from .journal import Journal

SCHEMA = """
CREATE TABLE IF NOT EXISTS closures (
    kind TEXT NOT NULL,
    number INTEGER NOT NULL,
    period TEXT NOT NULL,
    closed_at TEXT NOT NULL,
    first_seq INTEGER NOT NULL,
    last_seq INTEGER NOT NULL,
    hash TEXT NOT NULL,
    payload BLOB NOT NULL,
    PRIMARY KEY (kind, number),
    UNIQUE (kind, period)
);
CREATE TRIGGER IF NOT EXISTS closures_no_update BEFORE UPDATE ON closures
BEGIN SELECT RAISE(ABORT, 'closures are append-only: a closure is never changed'); END;
CREATE TRIGGER IF NOT EXISTS closures_no_delete BEFORE DELETE ON closures
BEGIN SELECT RAISE(ABORT, 'closures are append-only: a closure is never deleted'); END;
"""


RETENTION_YEARS = 6  # NF525: the archive is kept at least six years


class ClosingError(TillError):
    """A period could not be closed or archived at the till."""


def ensure_schema(conn: sqlite3.Connection) -> None:
    conn.executescript(SCHEMA)


def tickets_between(journal: Journal, first_seq: int, last_seq: int | None = None) -> list[Ticket]:
    sql, args = "SELECT payload FROM tickets WHERE seq >= ?", [first_seq]
    if last_seq is not None:
        sql, args = sql + " AND seq <= ?", [first_seq, last_seq]
    return [decode_ticket(row[0], journal.terminal) for row in journal.conn.execute(sql + " ORDER BY seq", args)]


def closures(journal: Journal, kind: str | None = None) -> list[Closure]:
    ensure_schema(journal.conn)
    sql = "SELECT payload FROM closures" + (" WHERE kind = ?" if kind else "") + " ORDER BY kind, number"
    return [decode_closure(row[0]) for row in journal.conn.execute(sql, (kind,) if kind else ())]


def last_closure(journal: Journal, kind: str) -> Closure | None:
    row = journal.conn.execute(
        "SELECT payload FROM closures WHERE kind = ? ORDER BY number DESC LIMIT 1", (kind,)
    ).fetchone()
    return decode_closure(row[0]) if row else None


def close_period(journal: Journal, period: str, key: Ed25519PrivateKey, now: datetime | None = None) -> Closure:
    """Close a store day ("2026-11-23"), month ("2026-11") or year ("2026") of this till; returns the signed
    closure, with the period's journal events counted apart from the sales.

    Written in one transaction that also holds off new tickets, so none slips between the read
    and the write.
    """
    conn = journal.conn
    ensure_schema(conn)
    now = now or utc_now()
    try:
        kind = kind_of(period)
    except ClosureError as exc:
        raise ClosingError(str(exc)) from None
    with transaction(conn):
        previous = last_closure(journal, kind)
        after = tickets_between(journal, previous.last_seq + 1 if previous else 1)
        closure = sign_closure(
            make_closure(journal.terminal, period, select_period(after, period), previous, now, journal.events()), key
        )
        conn.execute(
            "INSERT INTO closures VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                kind,
                closure.number,
                period,
                now.isoformat(),
                closure.first_seq,
                closure.last_seq,
                closure_hash(closure),
                encode_closure(closure),
            ),
        )
    return closure


def read_archive(path: str | Path, public_key: Ed25519PublicKey | None = None) -> archive.Archive:
    """programme.archive.read, each file read only when regular and within its bound."""
    path = Path(path)
    sig = Path(f"{path}.sig")
    advice = "give an archive written by `loyalty till archive`"
    try:
        data = read_regular(path, archive.MAX_ARCHIVE_BYTES, "an archive", advice)
    except FileNotFoundError:
        raise ClosingError(f"no archive at {path}") from None
    except UnsafeFileError as exc:
        raise ClosingError(str(exc)) from None
    try:
        signature = read_regular(
            sig,
            archive.MAX_SIGNATURE_BYTES,
            "a signature",
            "give the .sig file written with the archive by `loyalty till archive`",
        )
    except FileNotFoundError:
        raise ClosingError(f"no signature beside {path.name}: {sig.name} should be next to it") from None
    except UnsafeFileError as exc:
        raise ClosingError(str(exc)) from None
    return archive.verify(data, signature, path.name, public_key)


def verify_journal(journal: Journal, key: Ed25519PrivateKey | None) -> list[str]:
    """Every problem in the journal's closures: signatures (with the till's key), chains, totals."""
    return verify_chain(
        closures(journal), tickets_between(journal, 1), key.public_key() if key else None, events=journal.events()
    )


def export_archive(
    journal: Journal, period: str, key: Ed25519PrivateKey, out: str | Path, now: datetime | None = None
) -> dict:
    """Write the period's archive to `out` and its detached signature to `out`.sig; a summary back.

    A month's archive holds its month closure, the day closures of its days, the tickets they
    cover and the closure before each chain's first (to check links and grand totals).
    """
    kind = kind_of(period)
    start, end = period_bounds(period)
    everything = closures(journal)
    main = [c for c in everything if c.kind == kind and c.period == period]
    if not main:
        raise ClosingError(
            f"{kind} {period} of {journal.terminal} is not closed: run `loyalty till close-{kind}` for it first"
        )
    inner = {"month": "day", "year": "month"}.get(kind)
    days = [c for c in everything if c.kind == inner and c.period.startswith(period + "-")]
    chosen = [*days, *main]
    anchors = []
    for chain_kind in KINDS:
        numbers = [c.number for c in chosen if c.kind == chain_kind]
        if numbers and min(numbers) > 1:
            anchors += [c for c in everything if c.kind == chain_kind and c.number == min(numbers) - 1]
    first = min(c.first_seq for c in chosen)
    last = max(c.last_seq for c in chosen)
    tickets = tickets_between(journal, first, last) if last >= first else []
    out = Path(out)
    data = archive.build(journal.terminal, period, [*anchors, *chosen], tickets, now or utc_now())
    try:  # private (it holds card numbers), whole or absent, never through a link
        refuse_link(f"{out}.sig", "an archive")
        write_private(out, data, "an archive")
        write_private(f"{out}.sig", archive.sign(data, out.name, journal.terminal, key), "an archive")
    except UnsafeFileError as exc:
        raise ClosingError(str(exc)) from None
    journal.record_event(
        "archive",
        cashier="operator",
        at=now,
        detail=f"archive {period} {out.name} sha256:{hashlib.sha256(data).hexdigest()}",
    )
    return {
        "archive": str(out),
        "signature": f"{out}.sig",
        "terminal": journal.terminal,
        "period": period,
        "from": start.isoformat(),
        "to": end.isoformat(),
        "closures": len(anchors) + len(chosen),
        "tickets": len(tickets),
        "public_key": public_key_text(key),
    }


def purge(journal: Journal, period: str, now: datetime | None = None) -> dict:
    """Remove an archived period's tickets from the journal, once it is RETENTION_YEARS old: refused for
    younger data, and for a period never archived. The purge is itself a journaled event."""
    now = now or utc_now()
    kind = kind_of(period)
    _, end = period_bounds(period)
    try:
        keep_until = end.replace(year=end.year + RETENTION_YEARS)
    except ValueError:  # 29 February
        keep_until = end.replace(year=end.year + RETENTION_YEARS, day=28)
    if now < keep_until:
        raise ClosingError(
            f"{kind} {period} of {journal.terminal} is kept {RETENTION_YEARS} years (NF525): "
            f"it cannot be purged before {keep_until.date().isoformat()}"
        )
    main = [c for c in closures(journal, kind) if c.period == period]
    archived = journal.conn.execute(
        "SELECT 1 FROM till_events WHERE kind = 'archive' AND total_cents = 0 AND CAST(payload AS TEXT) LIKE ?",
        (f'%"detail":"archive {period} %',),
    ).fetchone()
    if not main or not archived:
        raise ClosingError(
            f"{kind} {period} of {journal.terminal} was never archived: run `loyalty till archive "
            f"--period {period}` and keep the file before purging it"
        )
    first, last = main[0].first_seq, main[0].last_seq
    with journal.conn:
        ids = [r[0] for r in journal.conn.execute("SELECT id FROM tickets WHERE seq BETWEEN ? AND ?", (first, last))]
        journal.conn.executemany("DELETE FROM lines WHERE ticket_id = ?", [(i,) for i in ids])
        journal.conn.executemany("DELETE FROM receipts WHERE ticket_id = ?", [(i,) for i in ids])
        journal.conn.execute("DELETE FROM tickets WHERE seq BETWEEN ? AND ?", (first, last))
    journal.record_event(
        "archive", cashier="operator", at=now, detail=f"purge {period} tickets {first}-{last} ({len(ids)})"
    )
    return {"terminal": journal.terminal, "period": period, "tickets": len(ids), "first_seq": first, "last_seq": last}
