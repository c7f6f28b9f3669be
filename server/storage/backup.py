"""Online backup and restore of the server's SQLite database (SQLite's backup API: consistent while ingest runs).

Both write a private (0600) temporary file beside the target and put it in place only once it is whole
and checked: a failure leaves nothing behind, and neither ever writes through a symbolic link.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

from sync.safe_files import UnsafeFileError, new_private_file, refuse_link

from server.errors import StoreError

PAGES_PER_STEP = 1024
INTEGRITY_CHECK = "PRAGMA integrity_check"


def _check(conn: sqlite3.Connection) -> str:
    return conn.execute(INTEGRITY_CHECK).fetchone()[0]


def backup(db: str | Path, dest: str | Path, progress: Callable[[int, int], None] = lambda done, total: None) -> dict:
    """Copy `db` to `dest` page by page while others keep writing; checks the copy's integrity."""
    db, dest = Path(db), Path(dest)
    if not db.exists():
        raise StoreError(f"no database at {db}: give the server's --db")
    try:
        refuse_link(dest, "a backup")
    except UnsafeFileError as exc:
        raise StoreError(str(exc)) from None
    if os.path.lexists(dest):
        raise StoreError(f"{dest} exists already: choose a new file name, a backup never overwrites")
    try:
        with new_private_file(dest, "a backup") as tmp:
            tickets, check = _copy(db, tmp, progress)
            if check != "ok":
                raise StoreError(f"the backup {dest} failed its integrity check: {check}")
    except UnsafeFileError as exc:
        raise StoreError(f"{exc}, a backup never overwrites") from None
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"cannot back up {db}: {exc}; give the server's --db") from None
    return {"backup": str(dest), "bytes": dest.stat().st_size, "tickets": tickets, "integrity": check}


def _copy(db: Path, tmp: Path, progress: Callable[[int, int], None]) -> tuple[int, str]:
    source = sqlite3.connect(db)
    target = sqlite3.connect(tmp)
    try:
        source.backup(
            target, pages=PAGES_PER_STEP, progress=lambda status, remaining, total: progress(total - remaining, total)
        )
        return target.execute("SELECT count(*) FROM tickets").fetchone()[0], _check(target)
    finally:
        target.close()
        source.close()


def restore(backup_file: str | Path, db: str | Path) -> dict:
    """Put a backup in place as the server's database; refuses to overwrite a database."""
    backup_file, db = Path(backup_file), Path(db)
    if not backup_file.exists():
        raise StoreError(f"no backup at {backup_file}")
    if os.path.lexists(db):
        raise StoreError(f"{db} exists: stop the server and move it aside first, a restore never overwrites")
    try:
        with new_private_file(db, "a database") as tmp:
            tickets = _restore(backup_file, tmp)
    except UnsafeFileError as exc:
        raise StoreError(f"{exc}, a restore never overwrites") from None
    except sqlite3.DatabaseError as exc:
        raise StoreError(
            f"cannot restore {backup_file}: {exc}; give a file written by `loyalty server backup`"
        ) from None
    return {"restored": str(db), "tickets": tickets}


def _restore(backup_file: Path, tmp: Path) -> int:
    source = sqlite3.connect(backup_file)
    try:
        check = _check(source)
        if check != "ok":
            raise StoreError(f"the backup {backup_file} failed its integrity check: {check}")
        target = sqlite3.connect(tmp)
        try:
            source.backup(target)
            target.execute("PRAGMA journal_mode=WAL")
            return target.execute("SELECT count(*) FROM tickets").fetchone()[0]
        finally:
            target.close()
    finally:
        source.close()
