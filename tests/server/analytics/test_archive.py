"""The archive export on SQLite and PostgreSQL: Hive-partitioned Parquet by month, incremental, idempotent,
a ticket exactly once however often the job runs or crashes midway."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timezone

import pytest
from click.testing import CliRunner

from loyalty.cli import main
from programme.ticket import PointsEntry, Tender, Ticket, make_line
from server.analytics import archive
from server.analytics.archive_db import open_archive
from server.storage.connection import open_connection
from server.ingest.store_api import open_store
from sync.codec import encode_ticket
from sync.topics import tickets as tickets_topic

from ...fixtures.headoffice import CARDS, accept_points, build_known_set, store_tickets  # noqa: F401

NOW = "2026-03-01T00:00:00+00:00"


def new_tickets(first: int, count: int, day: int = 28, month: int = 2) -> list[Ticket]:
    """Tickets of till S005-T01 from sequence `first`, every other one on card B, in February 2026."""
    closed = datetime(2026, month, day, 9, 0, tzinfo=timezone.utc)
    return [
        Ticket(
            id=f"S005-T01-{seq:08d}",
            terminal="S005-T01",
            seq=seq,
            store="S005",
            cashier="c1",
            opened_at=closed,
            closed_at=closed,
            lines=[make_line("3017620422003", 1, 100 + seq), make_line("3228857000906", 2, 50, category="fresh")],
            tenders=[Tender(kind="cash", cents=200 + seq)],
            total_cents=200 + seq,
            card=CARDS["B"] if seq % 2 else None,
            points=[PointsEntry(kind="earn", rule="base", points=2)] if seq % 2 else [],
            rules_version="base-1",
        )
        for seq in range(first, first + count)
    ]


def in_store(target) -> dict:
    conn = open_connection(target)
    try:
        return {
            "tickets": conn.execute("SELECT count(*) FROM tickets").fetchone()[0],
            "lines": conn.execute("SELECT count(*) FROM lines").fetchone()[0],
            "ledger": conn.execute("SELECT count(*) FROM ledger").fetchone()[0],
        }
    finally:
        conn.close()


def in_archive(path) -> dict:
    """Rows and distinct keys per table, read back by DuckDB with Hive partitioning."""
    db = open_archive(path)
    try:
        tickets = db.execute("SELECT count(*), count(DISTINCT id) FROM tickets").fetchone()
        lines = db.execute("SELECT count(*), count(DISTINCT (ticket_id, line_no)) FROM lines").fetchone()
        ledger = db.execute("SELECT count(*), count(DISTINCT id) FROM ledger").fetchone()
    finally:
        db.close()
    assert tickets[0] == tickets[1] and lines[0] == lines[1] and ledger[0] == ledger[1], "a row is archived twice"
    return {"tickets": tickets[0], "lines": lines[0], "ledger": ledger[0]}


def run_export(target, path, **kw) -> dict:
    conn = open_connection(target)
    try:
        return archive.export(conn, path, **kw)
    finally:
        conn.close()


def test_export_writes_hive_partitions_by_month_then_only_what_is_new(office_target, tmp_path):
    build_known_set(office_target)
    path = tmp_path / "office.archive"
    first = run_export(office_target, path)
    assert {k: first[k] for k in ("batches", "tickets", "lines", "ledger")} == {
        "batches": 1,
        "tickets": 13,
        "lines": 13,
        "ledger": 14,
    }
    assert sorted(str(p.relative_to(path)) for p in path.rglob("batch-*.parquet")) == [
        f"{table}/month={month}/batch-00000001.parquet"
        for table in ("ledger", "lines", "tickets")
        for month in ("2025-06", "2026-01")
    ]
    assert sorted(str(p.relative_to(path)) for p in path.rglob("rollup.parquet")) == [
        f"{rollup}/month={month}/rollup.parquet"
        for rollup in ("card_month", "card_points", "points_day", "store_day")
        for month in ("2025-06", "2026-01")
    ]
    assert first["rollups"] == ["2025-06", "2026-01"]
    assert {p.stat().st_mode & 0o777 for p in path.rglob("*.parquet")} == {0o600}  # card numbers: personal data
    assert {p.stat().st_mode & 0o777 for p in path.rglob("*") if p.is_dir()} == {0o700}
    manifest = json.loads((path / "_archive.json").read_text())
    assert manifest["tables"] == ["tickets", "lines", "ledger"]
    assert manifest["rollups"] == ["card_month", "store_day", "card_points", "points_day"]
    assert manifest["format"] == 2
    db = open_archive(path)
    assert db.execute(
        "SELECT month, count(*), sum(total_cents) FROM tickets GROUP BY month ORDER BY month"
    ).fetchall() == [("2025-06", 1, 10000), ("2026-01", 12, 125000)]
    assert db.execute("SELECT day, closed_at FROM tickets WHERE id = 'S002-T02-00000001'").fetchone() == (
        datetime(2025, 6, 1).date(),
        datetime(2025, 6, 1, 11, tzinfo=timezone.utc),
    )
    db.close()
    rolled = {p: p.stat().st_mtime_ns for p in path.rglob("rollup.parquet")}
    nothing = run_export(office_target, path)
    assert (nothing["tickets"], nothing["rollups"]) == (0, [])  # nothing new: nothing written
    assert len(list(path.rglob("batch-*.parquet"))) == 6
    assert {p: p.stat().st_mtime_ns for p in path.rglob("rollup.parquet")} == rolled

    store_tickets(office_target, new_tickets(1, 4))
    again = run_export(office_target, path)
    assert (again["batches"], again["tickets"], again["lines"], again["ledger"], again["rollups"]) == (
        1,
        4,
        8,
        2,
        ["2026-02"],
    )
    assert sorted(str(p.relative_to(path)) for p in path.rglob("batch-00000002.parquet")) == [
        "ledger/month=2026-02/batch-00000002.parquet",
        "lines/month=2026-02/batch-00000002.parquet",
        "tickets/month=2026-02/batch-00000002.parquet",
    ]
    assert in_archive(path) == in_store(office_target) == {"tickets": 17, "lines": 21, "ledger": 16}


def test_a_crash_after_the_files_before_the_watermark_duplicates_nothing(office_target, tmp_path, monkeypatch):
    build_known_set(office_target)
    path = tmp_path / "office.archive"
    monkeypatch.setattr(archive, "BATCH", 5)  # three batches of tickets
    done = archive._mark_done
    calls = []

    def crash_on_second(conn, batch, written):
        calls.append(batch.number)
        if len(calls) == 2:
            raise RuntimeError("power cut")
        done(conn, batch, written)

    monkeypatch.setattr(archive, "_mark_done", crash_on_second)
    with pytest.raises(RuntimeError, match="power cut"):
        run_export(office_target, path)
    assert len(list(path.rglob("batch-00000002.parquet"))) >= 1  # batch 2 is written, not marked done
    store_tickets(office_target, new_tickets(1, 7))  # tickets arrive before the job runs again
    result = run_export(office_target, path)
    assert result["redone"] == 1 and calls[2] == 2  # batch 2 again, under the same names
    assert in_archive(path) == in_store(office_target) == {"tickets": 20, "lines": 27, "ledger": 18}
    assert run_export(office_target, path)["tickets"] == 0


def test_a_crash_between_two_files_of_a_batch_duplicates_nothing(office_target, tmp_path, monkeypatch):
    build_known_set(office_target)
    store_tickets(office_target, new_tickets(1, 6))
    path = tmp_path / "office.archive"
    monkeypatch.setattr(archive, "BATCH", 4)
    write = archive._write_part
    writes = []

    def crash_on_fifth(target, table):
        writes.append(target)
        if len(writes) == 5:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.with_name(f".{target.name}.tmp").write_bytes(b"half a file")
            raise OSError("disk full")
        write(target, table)

    monkeypatch.setattr(archive, "_write_part", crash_on_fifth)
    with pytest.raises(OSError, match="disk full"):
        run_export(office_target, path)
    monkeypatch.setattr(archive, "_write_part", write)
    assert run_export(office_target, path)["redone"] == 1
    assert not list(path.rglob("*.tmp"))  # the half-written file is gone
    assert in_archive(path) == in_store(office_target) == {"tickets": 19, "lines": 25, "ledger": 17}


def test_exports_while_tickets_arrive_hold_each_ticket_once(office_target, tmp_path):
    """Ingest in a thread while exports run in a loop (on PostgreSQL, tickets committed in any order reach
    the archive through the trigger's queue)."""
    build_known_set(office_target)
    path = tmp_path / "office.archive"
    arriving = new_tickets(1, 120)

    def ingest() -> None:
        for first in range(0, len(arriving), 10):
            some = arriving[first : first + 10]
            store = open_store(office_target)
            try:
                store.ingest([(tickets_topic(t.terminal), t, encode_ticket(t)) for t in some], [], NOW)
                accept_points(store, some, NOW)  # in the desk's write transaction (BEGIN IMMEDIATE)
            finally:
                store.close()

    writer = threading.Thread(target=ingest)
    writer.start()
    conn = open_connection(office_target)
    runs = 0
    while writer.is_alive():
        archive.export(conn, path)
        runs += 1
    writer.join()
    archive.export(conn, path)
    assert archive.pending(conn) == 0 and runs >= 1
    conn.close()
    assert in_archive(path) == in_store(office_target)


def test_an_archive_belongs_to_one_database(tmp_path):
    one, other = tmp_path / "one.db", tmp_path / "other.db"
    build_known_set(one)
    build_known_set(other)
    path = tmp_path / "one.archive"
    run_export(one, path)
    with pytest.raises(archive.ArchiveError) as refused:
        run_export(other, path)
    assert str(refused.value) == (
        f"{path} holds the archive of another database: give this database an archive of its own (--archive NEW_DIR)"
    )
    moved = tmp_path / "elsewhere"
    with pytest.raises(archive.ArchiveError) as refused:
        run_export(one, moved)
    assert str(refused.value).startswith(f"this database is archived in {path.resolve()} (archive ")
    assert str(refused.value).endswith(f"), and {moved} is not that archive: give --archive {path.resolve()}")
    assert not moved.exists()  # nothing made where the archive is not
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "notes.txt").write_text("mine")
    with pytest.raises(archive.ArchiveError, match="full is not empty and is not an archive: give an empty or new"):
        run_export(other, tmp_path / "full")


def test_export_command_writes_beside_the_database(tmp_path):
    db = tmp_path / "office.db"
    build_known_set(db)
    result = CliRunner().invoke(main, ["office", "export", "--db", str(db)])
    assert result.exit_code == 0, result.output
    counts = json.loads(result.output.strip().splitlines()[-1])
    assert (counts["tickets"], counts["archive"]) == (13, str(tmp_path / "office.archive"))
    assert (tmp_path / "office.archive" / "tickets" / "month=2026-01" / "batch-00000001.parquet").exists()
    refused = CliRunner().invoke(main, ["office", "export", "--db", "postgresql://u@127.0.0.1:1/x"])
    assert refused.exit_code == 1
    assert refused.output.strip() == (
        "Error: a PostgreSQL database has no folder to keep the archive beside: give --archive DIR"
    )


def test_a_damaged_manifest_is_a_clear_error(tmp_path):
    db = tmp_path / "office.db"
    build_known_set(db)
    path = tmp_path / "office.archive"
    run_export(db, path)
    (path / "_archive.json").write_text('{"id": ')
    with pytest.raises(archive.ArchiveError) as refused:
        run_export(db, path)
    assert str(refused.value) == (
        f"{path / '_archive.json'} cannot be read (Expecting value: line 1 column 8 "
        "(char 7)): restore it from a backup of the archive"
    )


def test_a_second_export_to_the_same_archive_is_refused_while_one_runs(tmp_path):
    import fcntl

    db = tmp_path / "office.db"
    build_known_set(db)
    path = tmp_path / "office.archive"
    run_export(db, path)
    with open(path / ".export.lock", "w") as running:
        fcntl.flock(running, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(archive.ArchiveError) as refused:
            run_export(db, path)
    assert str(refused.value) == f"another export to {path} is running: wait for it to end"
    assert run_export(db, path)["tickets"] == 0


def test_export_command_from_postgresql_needs_its_archive_named(postgres_url, tmp_path):
    build_known_set(postgres_url)
    path = tmp_path / "pg.archive"
    result = CliRunner().invoke(main, ["office", "export", "--db", postgres_url, "--archive", str(path)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output.strip().splitlines()[-1])["tickets"] == 13
    asked = CliRunner().invoke(
        main,
        ["office", "sql", "--archive", str(path), "--json", "SELECT count(*) AS n, sum(points) AS points FROM ledger"],
    )
    assert json.loads(asked.output) == [{"n": 14, "points": 2050}]  # 2,000 earned in 2026, 100 in 2025, 50 spent
