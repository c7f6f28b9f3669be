"""Online backup and restore of the server's SQLite database (SQLite's backup API: consistent while ingest runs)."""
from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

from .errors import StoreError

PAGES_PER_STEP = 1024


def backup(db: str | Path, dest: str | Path, progress: Callable[[int, int], None] = lambda done, total: None) -> dict:
    """Copy `db` to `dest` page by page while others keep writing; checks the copy's integrity."""
    db, dest = Path(db), Path(dest)
    if not db.exists():
        raise StoreError(f"no database at {db}: give the server's --db")
    if dest.exists():
        raise StoreError(f"{dest} exists already: choose a new file name, a backup never overwrites")
    source = sqlite3.connect(db)
    target = sqlite3.connect(dest)
    try:
        source.backup(target, pages=PAGES_PER_STEP,
                      progress=lambda status, remaining, total: progress(total - remaining, total))
        check = target.execute("PRAGMA integrity_check").fetchone()[0]
        tickets = target.execute("SELECT count(*) FROM tickets").fetchone()[0]
    finally:
        target.close()
        source.close()
    if check != "ok":
        raise StoreError(f"the backup {dest} failed its integrity check: {check}")
    return {"backup": str(dest), "bytes": dest.stat().st_size, "tickets": tickets, "integrity": check}


def restore(backup_file: str | Path, db: str | Path) -> dict:
    """Put a backup in place as the server's database; refuses to overwrite a database."""
    backup_file, db = Path(backup_file), Path(db)
    if not backup_file.exists():
        raise StoreError(f"no backup at {backup_file}")
    if db.exists():
        raise StoreError(f"{db} exists: stop the server and move it aside first, a restore never overwrites")
    source = sqlite3.connect(backup_file)
    try:
        check = source.execute("PRAGMA integrity_check").fetchone()[0]
        if check != "ok":
            raise StoreError(f"the backup {backup_file} failed its integrity check: {check}")
        target = sqlite3.connect(db)
        try:
            source.backup(target)
            target.execute("PRAGMA journal_mode=WAL")
            tickets = target.execute("SELECT count(*) FROM tickets").fetchone()[0]
        finally:
            target.close()
    finally:
        source.close()
    return {"restored": str(db), "tickets": tickets}
