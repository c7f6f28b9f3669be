"""The open archive of historised tickets: Parquet files of tickets, lines and ledger entries, by month.

`export(conn, archive)` copies what the store holds and the archive does not yet, in batches. Each
batch is first *claimed* in the server database (`archive_batches`: on SQLite a rowid range of
tickets and an id range of ledger entries; on PostgreSQL, where ids committed by concurrent writers
do not arrive in order, the rows a trigger noted in `archive_pending_*`, tagged with the batch), then
written as one file per table and month, named by the batch (`tickets/month=2026-11/batch-00000042.parquet`,
to a hidden temporary name, then renamed), and only then marked done. A run that finds a batch
claimed but not done (a crash) writes it again under the same names: the files are replaced, never
added, so a ticket is in the archive exactly once however often the job runs or stops midway.

The archive says what it is in `_archive.json` (its id, the tables, the layout); the database names
the one archive it feeds (`archive_target`), so two databases never mix in one archive and a moved
archive is noticed rather than refilled. Files hold card numbers (personal data): 0600, folders 0700.
"""

from __future__ import annotations

import fcntl
import json
import os
import uuid
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from server.storage.connection import is_postgres, transaction
from server.storage.sql import lock_table, plain_rows, rowid_order
from ..errors import ServerError
from . import rollups
from .margins import margin_cents

BATCH = 50_000  # tickets per batch (and their lines)
LEDGER_BATCH = 200_000  # ledger entries per batch
TABLES = ("tickets", "lines", "ledger")
MANIFEST = "_archive.json"
LOCK_FILE = ".export.lock"
FORMAT = 2  # 2: tickets carry margin_cents, and the month roll-ups (rollups.py) stand beside the files


class ArchiveError(ServerError):
    """The archive could not be written or read; the text says why and what to do."""


def default_archive(db: str | Path) -> Path:
    """Beside a SQLite database: `office.db` -> `office.archive/`. PostgreSQL has no file to stand beside."""
    if is_postgres(db):
        raise ArchiveError("a PostgreSQL database has no folder to keep the archive beside: give --archive DIR")
    path = Path(db)
    return path.with_name(f"{path.stem}.archive")


def _arrow():
    import pyarrow as pa

    ts = pa.timestamp("us", tz="UTC")
    return pa, {
        "tickets": pa.schema(
            [
                ("id", pa.string()),
                ("terminal", pa.string()),
                ("seq", pa.int64()),
                ("store", pa.string()),
                ("cashier", pa.string()),
                ("closed_at", ts),
                ("day", pa.date32()),
                ("card", pa.string()),
                ("total_cents", pa.int64()),
                ("margin_cents", pa.int64()),
                ("points_earned", pa.int64()),
                ("points_redeemed", pa.int64()),
                ("rules_version", pa.string()),
                ("hash", pa.string()),
                ("prev_hash", pa.string()),
                ("received_at", ts),
            ]
        ),
        "lines": pa.schema(
            [
                ("ticket_id", pa.string()),
                ("line_no", pa.int32()),
                ("gtin", pa.string()),
                ("label", pa.string()),
                ("category", pa.string()),
                ("quantity", pa.int64()),
                ("unit_cents", pa.int64()),
                ("discount_cents", pa.int64()),
                ("total_cents", pa.int64()),
                ("store", pa.string()),
                ("card", pa.string()),
                ("day", pa.date32()),
            ]
        ),
        "ledger": pa.schema(
            [
                ("id", pa.int64()),
                ("card", pa.string()),
                ("kind", pa.string()),
                ("points", pa.int64()),
                ("rule", pa.string()),
                ("cause", pa.string()),
                ("ticket_id", pa.string()),
                ("at", ts),
                ("lot_at", ts),
            ]
        ),
    }


def schemas() -> dict:
    """The Arrow schema of each table's files (the `month` partition column is in the folder names, not the files)."""
    return _arrow()[1]


# What each table's query reads (the schema's columns but `day`, which comes from closed_at; lines take
# their ticket's store, card and closed_at besides).
TICKET_COLUMNS = (
    "id, terminal, seq, store, cashier, closed_at, card, total_cents, points_earned, "
    "points_redeemed, rules_version, hash, prev_hash, received_at"
)
LINE_COLUMNS = "ticket_id, line_no, gtin, label, category, quantity, unit_cents, discount_cents, total_cents"
LEDGER_COLUMNS = "id, card, kind, points, rule, cause, ticket_id, at, lot_at"
READ = {"tickets": TICKET_COLUMNS, "lines": LINE_COLUMNS, "ledger": LEDGER_COLUMNS}


@dataclass
class Batch:
    number: int
    first_ticket: int = 0
    last_ticket: int = 0
    first_ledger: int = 0
    last_ledger: int = 0


def pending(conn) -> int:
    """Tickets stored that no batch holds yet (an unfinished batch's tickets are not counted)."""
    if rowid_order(conn):
        last = conn.execute("SELECT coalesce(max(last_ticket), 0) FROM archive_batches").fetchone()[0]
        return conn.execute("SELECT count(*) FROM tickets WHERE rowid > ?", (last,)).fetchone()[0]
    return conn.execute("SELECT count(*) FROM archive_pending_tickets WHERE batch IS NULL").fetchone()[0]


def archived(conn) -> int:
    """The archive's watermark, in the aggregates' terms (aggregate.watermark): on SQLite the last ticket rowid
    of the batches done, on PostgreSQL the tickets they hold."""
    counted = "max(last_ticket)" if rowid_order(conn) else "sum(tickets)"
    return conn.execute(f"SELECT coalesce({counted}, 0) FROM archive_batches WHERE done_at IS NOT NULL").fetchone()[0]


def archive_of(conn) -> Path | None:
    """The archive this database feeds when it has one on this machine (`archive_target` names it and its
    `_archive.json` is there); None otherwise."""
    row = conn.execute("SELECT path FROM archive_target").fetchone()
    if row is None or not (Path(row[0]) / MANIFEST).exists():
        return None
    return Path(row[0])


def export(conn, archive: str | Path, progress: Callable[[int, int], None] | None = None) -> dict:
    """Write every ticket, line and ledger entry the archive does not hold yet; returns counts.

    `progress(done, total)` is called with tickets written so far and the tickets to write in this run."""
    archive = Path(archive)
    target = conn.execute("SELECT id, path FROM archive_target").fetchone()
    if target is not None and not archive.exists():  # refused before making anything there
        raise ArchiveError(_not_that_archive(target, archive))
    with _export_lock(archive):
        _bind(conn, archive)
        _remove_temporaries(archive)
        counts = {"batches": 0, "tickets": 0, "lines": 0, "ledger": 0, "redone": 0}
        unfinished = _unfinished(conn)
        total = pending(conn) + sum(_claimed_tickets(conn, b) for b in unfinished)
        done = 0
        while True:
            if unfinished:
                batch = unfinished.pop(0)
                counts["redone"] += 1
            else:
                batch = _claim(conn)
                if batch is None:
                    break
            written = _write_batch(conn, archive, batch)
            _mark_done(conn, batch, written)
            counts["batches"] += 1
            for table in TABLES:
                counts[table] += written[table]
            done += written["tickets"]
            if progress:
                progress(done, total)
        counts["rollups"] = rollups.refresh(archive)
    counts["archive"] = str(archive)
    return counts


@contextmanager
def _export_lock(archive: Path):
    """One export at a time per archive (a second one is refused, saying so)."""
    try:
        archive.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise ArchiveError(f"cannot create the archive folder {archive}: {exc.strerror}") from None
    handle = os.fdopen(os.open(archive / LOCK_FILE, os.O_WRONLY | os.O_CREAT, 0o600), "w")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ArchiveError(f"another export to {archive} is running: wait for it to end") from None
        yield
    finally:
        handle.close()


def _bind(conn, archive: Path) -> None:
    """Check the archive is this database's (or make it so, on the first export)."""
    manifest = archive / MANIFEST
    theirs = read_manifest(manifest)["id"] if manifest.exists() else None
    row = conn.execute("SELECT id, path FROM archive_target").fetchone()
    ours = row[0] if row else None
    if ours is None:
        if theirs is not None:
            raise ArchiveError(
                f"{archive} holds the archive of another database: give this database an archive "
                "of its own (--archive NEW_DIR)"
            )
        if any(p.name != LOCK_FILE for p in archive.iterdir()):
            raise ArchiveError(f"{archive} is not empty and is not an archive: give an empty or new folder")
        ours = str(uuid.uuid4())
        with _writing(conn):
            lock_table(conn, "archive_target")
            if conn.execute("SELECT 1 FROM archive_target").fetchone() is not None:
                raise ArchiveError("another export gave this database its archive meanwhile: run the export again")
            conn.execute("INSERT INTO archive_target VALUES (?, ?, ?)", (ours, str(archive.resolve()), _now()))
    elif theirs != ours:
        if theirs is None and conn.execute("SELECT count(*) FROM archive_batches").fetchone()[0] == 0:
            pass  # the first export stopped between the database and the manifest: go on
        else:
            raise ArchiveError(_not_that_archive(row, archive))
    if theirs is not None and read_manifest(manifest).get("format", 1) < FORMAT:
        _upgrade(archive)
    if theirs is None or read_manifest(manifest).get("format", 1) < FORMAT:
        _write_json(manifest, manifest_body(ours))


def manifest_body(archive_id: str) -> dict:
    """What `_archive.json` says: the archive's id, tables, roll-ups and layout."""
    return {
        "format": FORMAT,
        "id": archive_id,
        "tables": list(TABLES),
        "rollups": list(rollups.ROLLUPS),
        "partitioning": "month=YYYY-MM",
        "files": "<table>/month=YYYY-MM/batch-NNNNNNNN.parquet",
        "rollup_files": "<rollup>/month=YYYY-MM/rollup.parquet, made from the files _rollups/YYYY-MM.json names",
    }


def _upgrade(archive: Path) -> None:
    """A format-1 archive's tickets get their margin_cents (from the lines of the same batch and month, with
    today's rates); the roll-ups are then written by the export's end, as for any stale month. Rewrites each
    tickets file in place (to a temporary name, then renamed), so a crash midway only leaves files to redo."""
    import pyarrow.parquet as pq

    pa, all_schemas = _arrow()
    for path in sorted((archive / "tickets").glob("month=*/*.parquet")):
        table = pq.read_table(path)
        if "margin_cents" in table.column_names:
            continue
        lines_file = archive / "lines" / path.parent.name / path.name
        margins: dict[str, int] = {}
        if lines_file.exists():
            lines = pq.read_table(lines_file, columns=["ticket_id", "category", "total_cents"]).to_pydict()
            for ticket_id, category, cents in zip(lines["ticket_id"], lines["category"], lines["total_cents"]):
                margins[ticket_id] = margins.get(ticket_id, 0) + margin_cents(category, cents)
        margin = pa.array([margins.get(t, 0) for t in table.column("id").to_pylist()], pa.int64())
        schema = all_schemas["tickets"]
        columns = [margin if f.name == "margin_cents" else table.column(f.name) for f in schema]
        _write_part(path, pa.Table.from_arrays(columns, schema=schema))


def _not_that_archive(target, archive: Path) -> str:
    return (
        f"this database is archived in {target[1]} (archive {target[0]}), and {archive} is not that archive: "
        f"give --archive {target[1]}"
    )


def read_manifest(path: Path) -> dict:
    """The archive's `_archive.json`; ArchiveError when it does not read as one."""
    try:
        found = json.loads(path.read_text())
        found["id"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ArchiveError(f"{path} cannot be read ({exc}): restore it from a backup of the archive") from None
    return found


def _write_json(path: Path, data: dict) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(data, out, indent=2)
        out.flush()
        os.fsync(out.fileno())
    os.replace(temporary, path)


def _remove_temporaries(archive: Path) -> None:
    """Files a crashed run left half-written (hidden names, which no reader looks at)."""
    for table in TABLES:
        for stale in (archive / table).glob("month=*/.*.tmp"):
            stale.unlink()
    rollups.remove_temporaries(archive)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


def _unfinished(conn) -> list[Batch]:
    rows = conn.execute(
        "SELECT batch, first_ticket, last_ticket, first_ledger, last_ledger FROM archive_batches "
        "WHERE done_at IS NULL ORDER BY batch"
    ).fetchall()
    return [Batch(*row) for row in rows]


def _claimed_tickets(conn, batch: Batch) -> int:
    if rowid_order(conn):
        return conn.execute(
            "SELECT count(*) FROM tickets WHERE rowid > ? AND rowid <= ?", (batch.first_ticket, batch.last_ticket)
        ).fetchone()[0]
    return conn.execute("SELECT count(*) FROM archive_pending_tickets WHERE batch = ?", (batch.number,)).fetchone()[0]


@contextmanager
def _writing(conn):
    """A transaction of this job's own that takes the write lock at once (SQLite's BEGIN IMMEDIATE: a read
    that turns into a write while ingest writes would fail with `database is locked` instead of waiting)."""
    with transaction(conn):
        yield


def _claim(conn) -> Batch | None:
    """Fix the next batch's rows in the database (committed before any file is written); None when nothing is new."""
    with _writing(conn):
        lock_table(conn, "archive_batches")
        number = conn.execute("SELECT coalesce(max(batch), 0) + 1 FROM archive_batches").fetchone()[0]
        if not rowid_order(conn):
            tickets = conn.execute(
                "UPDATE archive_pending_tickets SET batch = ? WHERE n IN (SELECT n FROM archive_pending_tickets "
                "WHERE batch IS NULL ORDER BY n LIMIT ?)",
                (number, BATCH),
            ).rowcount
            ledger = conn.execute(
                "UPDATE archive_pending_ledger SET batch = ? WHERE n IN (SELECT n FROM archive_pending_ledger "
                "WHERE batch IS NULL ORDER BY n LIMIT ?)",
                (number, LEDGER_BATCH),
            ).rowcount
            if not tickets and not ledger:
                return None
            batch = Batch(number)
        else:
            ticket_from, ledger_from = conn.execute(
                "SELECT coalesce(max(last_ticket), 0), coalesce(max(last_ledger), 0) FROM archive_batches"
            ).fetchone()
            ticket_to = conn.execute(
                "SELECT max(rowid) FROM (SELECT rowid FROM tickets WHERE rowid > ? ORDER BY rowid LIMIT ?)",
                (ticket_from, BATCH),
            ).fetchone()[0]
            ledger_to = conn.execute(
                "SELECT max(id) FROM (SELECT id FROM ledger WHERE id > ? ORDER BY id LIMIT ?)",
                (ledger_from, LEDGER_BATCH),
            ).fetchone()[0]
            if ticket_to is None and ledger_to is None:
                return None
            batch = Batch(number, ticket_from, ticket_to or ticket_from, ledger_from, ledger_to or ledger_from)
        conn.execute(
            "INSERT INTO archive_batches (batch, first_ticket, last_ticket, first_ledger, last_ledger, "
            "claimed_at) VALUES (?, ?, ?, ?, ?, ?)",
            (batch.number, batch.first_ticket, batch.last_ticket, batch.first_ledger, batch.last_ledger, _now()),
        )
    return batch


def _mark_done(conn, batch: Batch, written: dict) -> None:
    """The watermark moves: only after every file of the batch is in place."""
    with _writing(conn):
        conn.execute(
            "UPDATE archive_batches SET done_at = ?, tickets = ?, lines = ?, ledger = ? WHERE batch = ?",
            (_now(), written["tickets"], written["lines"], written["ledger"], batch.number),
        )
        if not rowid_order(conn):
            conn.execute("DELETE FROM archive_pending_tickets WHERE batch = ?", (batch.number,))
            conn.execute("DELETE FROM archive_pending_ledger WHERE batch = ?", (batch.number,))


def _rows(conn, sql: str, params: tuple) -> list[tuple]:
    """Plain tuples, fast: sqlite3's default rows, or psycopg's tuple rows under the PgConnection."""
    return plain_rows(conn, sql, params)


def _read_batch(conn, batch: Batch) -> tuple[list, list, list]:
    """(tickets, lines with their ticket's store, card and closed_at last, ledger entries) of a batch, each in
    a fixed order."""
    if not rowid_order(conn):
        tickets = _rows(
            conn,
            f"SELECT {', '.join('t.' + c for c in TICKET_COLUMNS.split(', '))} FROM "
            "archive_pending_tickets p JOIN tickets t ON t.id = p.id AND t.closed_at = p.closed_at "
            "WHERE p.batch = ? ORDER BY t.closed_at, t.id",
            (batch.number,),
        )
        lines = _rows(
            conn,
            f"SELECT {', '.join('l.' + c for c in LINE_COLUMNS.split(', '))}, t.store, t.card, "
            "t.closed_at FROM archive_pending_tickets p JOIN tickets t ON t.id = p.id AND "
            "t.closed_at = p.closed_at JOIN lines l ON l.ticket_id = p.id WHERE p.batch = ? "
            "ORDER BY l.ticket_id, l.line_no",
            (batch.number,),
        )
        ledger = _rows(
            conn,
            f"SELECT {', '.join('g.' + c for c in LEDGER_COLUMNS.split(', '))} FROM "
            "archive_pending_ledger p JOIN ledger g ON g.id = p.id WHERE p.batch = ? ORDER BY g.id",
            (batch.number,),
        )
        return tickets, lines, ledger
    span = (batch.first_ticket, batch.last_ticket)
    tickets = _rows(conn, f"SELECT {TICKET_COLUMNS} FROM tickets WHERE rowid > ? AND rowid <= ? ORDER BY rowid", span)
    lines = _rows(
        conn,
        f"SELECT {', '.join('l.' + c for c in LINE_COLUMNS.split(', '))}, t.store, t.card, "
        "t.closed_at FROM tickets t "
        "JOIN lines l ON l.ticket_id = t.id WHERE t.rowid > ? AND t.rowid <= ? "
        "ORDER BY t.rowid, l.line_no",
        span,
    )
    ledger = _rows(
        conn,
        f"SELECT {LEDGER_COLUMNS} FROM ledger WHERE id > ? AND id <= ? ORDER BY id",
        (batch.first_ledger, batch.last_ledger),
    )
    return tickets, lines, ledger


def _timestamps(pa, values: list):
    """ISO-8601 text (SQLite) or aware datetimes (PostgreSQL) as UTC timestamps."""
    ts = pa.timestamp("us", tz="UTC")
    if any(isinstance(v, str) for v in values):
        return pa.array(values, pa.string()).cast(ts)
    return pa.array(values, ts)


def _table(name: str, rows: list[tuple], month_column: str, more: dict | None = None):
    """An Arrow table of `name`'s schema plus a `month` column ("2026-11", UTC) taken from `month_column`
    (a line's store, card and day are its ticket's, read with it; `more`: columns computed here)."""
    import pyarrow.compute as pc

    pa, all_schemas = _arrow()
    schema = all_schemas[name]
    names = READ[name].split(", ") + (["store", "card", "closed_at"] if name == "lines" else [])
    columns = list(zip(*rows)) if rows else [() for _ in names]
    source = dict(zip(names, columns)) | (more or {})
    moment = _timestamps(pa, list(source[month_column]))
    arrays = []
    for field in schema:
        if field.name == month_column:
            arrays.append(moment)
        elif field.name == "day":
            arrays.append(pc.cast(moment, pa.date32()))
        elif pa.types.is_timestamp(field.type):
            arrays.append(_timestamps(pa, list(source[field.name])))
        else:
            arrays.append(pa.array(source[field.name], field.type))
    month = pc.strftime(moment, format="%Y-%m")
    return pa.Table.from_arrays(arrays, schema=schema), month


def _write_batch(conn, archive: Path, batch: Batch) -> dict:
    """Every file of a batch, one per table and month; returns the rows written per table."""
    import pyarrow.compute as pc

    tickets, lines, ledger = _read_batch(conn, batch)
    margins: dict[str, int] = {}  # each ticket's margin: its lines' (margins.py, today's rates)
    for line in lines:
        margins[line[0]] = margins.get(line[0], 0) + margin_cents(line[4], line[8])
    more = {"tickets": {"margin_cents": [margins.get(t[0], 0) for t in tickets]}}
    written = {}
    try:
        for name, rows, moment in (
            ("tickets", tickets, "closed_at"),
            ("lines", lines, "closed_at"),
            ("ledger", ledger, "at"),
        ):
            table, month = _table(name, rows, moment, more.get(name))
            for value in sorted(pc.unique(month).to_pylist()):
                _write_part(
                    archive / name / f"month={value}" / f"batch-{batch.number:08d}.parquet",
                    table.filter(pc.equal(month, value)),
                )
            written[name] = len(rows)
    except (ValueError, TypeError) as exc:  # pyarrow's ArrowInvalid is a ValueError
        raise ArchiveError(
            f"batch {batch.number} cannot be archived: {exc}; nothing of it is marked done, "
            "fix the row and export again"
        ) from None
    return written


def _write_part(path: Path, table) -> None:
    """Write to a hidden temporary name, make it durable, then rename over any earlier copy of the same batch."""
    import pyarrow.parquet as pq

    path.parent.parent.mkdir(mode=0o700, exist_ok=True)
    path.parent.mkdir(mode=0o700, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        pq.write_table(table, out, compression="zstd")
        out.flush()
        os.fsync(out.fileno())
    os.replace(temporary, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
