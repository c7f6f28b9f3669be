"""WAL checkpoints off the writing path: the till's ticket close, head office's ingest batches.

With SQLite's automatic checkpoint, the commit that crosses 1,000 WAL pages also copies the WAL into
the database file and syncs it: one close in about a hundred took 7 to 200 ms instead of about 1.3 ms
(bench/till.py), and at head office about a third of a catch-up's time went into checkpoints inside
ingest commits (bench/ingest.py). The writing connection therefore turns the automatic checkpoint down
to a safety net (`SAFETY_NET_PAGES`), and this thread, with its own connection, checkpoints (PASSIVE:
it never waits for, nor blocks, the next commit) once the writer has been idle for `idle_s`, or after
`every_commits` commits in a busy spell. Durability does not change: each commit is synced as its
connection's `synchronous` setting says before it returns; a checkpoint only moves committed pages.
"""

from __future__ import annotations

import logging
import sqlite3
import threading

from sync.events import log_event

log = logging.getLogger("loyalty.till.checkpoint")

SAFETY_NET_PAGES = 20_000  # about 80 MB of WAL: the closing connection checkpoints itself only past this
EVERY_COMMITS = 64
IDLE_S = 0.5


class Checkpointer:
    """`nudge()` after each commit; a daemon thread checkpoints when the till pauses. `stop()` does a last one."""

    def __init__(self, path: str, every_commits: int = EVERY_COMMITS, idle_s: float = IDLE_S):
        self.path = path
        self.every_commits = every_commits
        self.idle_s = idle_s
        self.checkpoints = 0
        self.done = threading.Event()  # set after each checkpoint (tests wait on it)
        self._pending = 0
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None

    def nudge(self) -> None:
        with self._lock:
            self._pending += 1
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="journal-checkpoint", daemon=True)
                self._thread.start()
        self._wake.set()

    def _run(self) -> None:
        conn = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
        try:
            while True:
                self._wake.wait()
                self._wake.clear()
                # Wait for a pause in the closes, unless a busy spell has piled up enough of them.
                while not self._stopping and self._pending < self.every_commits and self._wake.wait(self.idle_s):
                    self._wake.clear()
                if self._pending:
                    self._checkpoint(conn)
                if self._stopping:
                    return
        finally:
            conn.close()

    def _checkpoint(self, conn: sqlite3.Connection) -> None:
        with self._lock:
            self._pending = 0
        try:
            busy, wal_pages, moved = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        except sqlite3.Error as exc:  # the next pause tries again; the safety net bounds the WAL meanwhile
            log_event(log, "checkpoint_failed", db=self.path, error=str(exc))
            return
        self.checkpoints += 1
        self.done.set()
        log.debug("checkpoint %s: %s of %s WAL pages moved (busy=%s)", self.path, moved, wal_pages, busy)

    def stop(self) -> None:
        """Checkpoint what is pending and end the thread (called by Journal.close)."""
        with self._lock:
            thread, self._stopping = self._thread, True
        if thread is not None:
            self._wake.set()
            thread.join()
