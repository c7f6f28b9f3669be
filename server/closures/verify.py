"""Head office's check of the tills' closures: each one's signature (the till's registered key), its
link to the previous closure of its kind, its totals against the tickets the server holds for
its sequence range, and its events' totals against the till's journal events head office holds.
Every closure is recorded in `closures`, verified or flagged with a reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import msgspec

from programme import archive
from programme.closure import (
    Closure,
    ClosureError,
    check_closure,
    closure_hash,
    decode_closure,
    encode_closure,
    verify_closure,
)
from programme.signing import SignatureError, load_public_key
from programme.ticket import Ticket
from sync.codec import decode_ticket
from sync.safe_files import UnsafeFileError, read_regular

from server.errors import ServerError
from server.ingest.store import Store
from server.ingest.till_events import held_events


VERIFIED, FLAGGED = "verified", "flagged"


class ClosureImportError(ServerError):
    """An archive of closures could not be imported."""


@dataclass
class ImportResult:
    verified: int = 0
    flagged: int = 0
    already: int = 0
    reasons: list[str] = field(default_factory=list)


def _server_tickets(store: Store, terminal: str, first_seq: int, last_seq: int) -> list[Ticket]:
    rows = store.conn.execute(
        "SELECT payload FROM tickets WHERE terminal = ? AND seq BETWEEN ? AND ? ORDER BY seq",
        (terminal, first_seq, last_seq),
    )
    return [decode_ticket(row[0], terminal) for row in rows]


def _previous(store: Store, closure: Closure) -> Closure | None:
    """The previous closure of the same till and kind as recorded (a verified one when there are several)."""
    row = store.conn.execute(
        "SELECT payload FROM closures WHERE terminal = ? AND kind = ? AND number = ? "
        "ORDER BY status = 'verified' DESC, id LIMIT 1",
        (closure.terminal, closure.kind, closure.number - 1),
    ).fetchone()
    return decode_closure(row[0]) if row else None


def check(store: Store, closure: Closure) -> str:
    """'' when the closure holds at head office, else the reason it does not."""
    row = store.conn.execute("SELECT public_key FROM till_keys WHERE terminal = ?", (closure.terminal,)).fetchone()
    if row is None:
        return (
            f"till {closure.terminal} has no registered key: register it with "
            "`loyalty server register-till`, then run `loyalty server verify-closures`"
        )
    try:
        verify_closure(closure, load_public_key(row[0]))
        previous = _previous(store, closure)
        if closure.number > 1 and previous is None:
            return (
                f"{closure.kind} closure {closure.number - 1} of {closure.terminal} is not at head office: "
                "import the archive holding it, then run `loyalty server verify-closures`"
            )
        check_closure(
            closure,
            _server_tickets(store, closure.terminal, closure.first_seq, closure.last_seq),
            previous,
            held_events(store.conn, closure.terminal),
        )
    except (SignatureError, ClosureError) as exc:
        return str(exc)
    return ""


def record(store: Store, closure: Closure, now: str, result: ImportResult) -> None:
    digest = closure_hash(closure)
    conn = store.conn
    if conn.execute(
        "SELECT 1 FROM closures WHERE terminal = ? AND kind = ? AND number = ? AND hash = ?",
        (closure.terminal, closure.kind, closure.number, digest),
    ).fetchone():
        result.already += 1
        return
    reason = check(store, closure)
    other = conn.execute(
        "SELECT 1 FROM closures WHERE terminal = ? AND kind = ? AND number = ?",
        (closure.terminal, closure.kind, closure.number),
    ).fetchone()
    if other and not reason:
        reason = (
            f"{closure.kind} closure {closure.number} of {closure.terminal} was already imported with "
            "other content: one of the two was altered"
        )
    with conn:
        conn.execute(
            "INSERT INTO closures (terminal, kind, number, period, first_seq, last_seq, hash, status, reason, "
            "imported_at, checked_at, payload) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                closure.terminal,
                closure.kind,
                closure.number,
                closure.period,
                closure.first_seq,
                closure.last_seq,
                digest,
                FLAGGED if reason else VERIFIED,
                reason,
                now,
                now,
                encode_closure(closure),
            ),
        )
    if reason:
        result.flagged += 1
        result.reasons.append(reason)
    else:
        result.verified += 1


def import_closures(store: Store, closures: list[Closure], now: str) -> ImportResult:
    """Record and check closures, each chain in order (so a closure finds its predecessor)."""
    result = ImportResult()
    for closure in sorted(closures, key=lambda c: (c.terminal, c.kind, c.number)):
        record(store, closure, now, result)
    return result


ARCHIVE_ADVICE = "give an archive written by `loyalty till archive`"


def read_archive_files(path: str | Path) -> tuple[bytes, bytes]:
    """An archive's bytes and its signature's, each refused unless a regular file within its bound."""
    path = Path(path)
    sig = Path(f"{path}.sig")
    try:
        data = read_regular(
            path,
            archive.MAX_ARCHIVE_BYTES,
            "an archive",
            ARCHIVE_ADVICE,
            "archive a day at a time (`loyalty till archive --period YYYY-MM-DD`)",
        )
    except FileNotFoundError:
        raise ClosureImportError(f"no archive at {path}") from None
    try:
        signature = read_regular(
            sig,
            archive.MAX_SIGNATURE_BYTES,
            "a signature",
            "give the .sig file written with the archive by `loyalty till archive`",
        )
    except FileNotFoundError:
        raise ClosureImportError(f"no signature beside {path.name}: {sig.name} should be next to it") from None
    return data, signature


def import_archive(store: Store, path: str | Path, now: str) -> ImportResult:
    """Import the closures of a till's archive, once its detached signature checks with the registered key.

    Both files are read bounded; the signature names the till, whose registered key must have made it
    before the archive itself is parsed."""
    try:
        data, signature = read_archive_files(path)
        try:
            terminal = msgspec.json.decode(signature, type=archive.SignatureFile).terminal
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            raise ClosureImportError(f"{Path(path).name}.sig is not an archive's signature: {exc}") from None
        row = store.conn.execute("SELECT public_key FROM till_keys WHERE terminal = ?", (terminal,)).fetchone()
        if row is None:
            raise ClosureImportError(
                f"till {terminal} has no registered key: register it with "
                "`loyalty server register-till` before importing its archives"
            )
        content = archive.verify(data, signature, Path(path).name, load_public_key(row[0]))
    except (archive.ArchiveError, UnsafeFileError) as exc:
        raise ClosureImportError(str(exc)) from None
    return import_closures(store, content.closures, now)


def verify_again(store: Store, now: str) -> ImportResult:
    """Check every flagged closure again (tickets or predecessors may have arrived since)."""
    result = ImportResult()
    rows = store.conn.execute(
        "SELECT id, payload FROM closures WHERE status = ? ORDER BY terminal, kind, number, id", (FLAGGED,)
    ).fetchall()
    for row_id, payload in rows:
        closure = decode_closure(payload)
        reason = check(store, closure)
        duplicate = store.conn.execute(
            "SELECT 1 FROM closures WHERE terminal = ? AND kind = ? AND number = ? AND id != ?",
            (closure.terminal, closure.kind, closure.number, row_id),
        ).fetchone()
        if duplicate and not reason:
            continue  # one of two contents: stays flagged
        with store.conn:
            store.conn.execute(
                "UPDATE closures SET status = ?, reason = ?, checked_at = ? WHERE id = ?",
                (FLAGGED if reason else VERIFIED, reason, now, row_id),
            )
        if reason:
            result.flagged += 1
            result.reasons.append(reason)
        else:
            result.verified += 1
    return result


def listing(store: Store, terminal: str | None = None) -> list[dict]:
    sql = (
        "SELECT terminal, kind, number, period, first_seq, last_seq, status, reason FROM closures"
        + (" WHERE terminal = ?" if terminal else "")
        + " ORDER BY terminal, kind, number, id"
    )
    return [dict(r) for r in store.db.query(sql, (terminal,) if terminal else ())]
