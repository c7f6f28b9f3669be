"""The till reports its sync status to head office: on connect, every STATUS_INTERVAL, and when the backlog drains.

It rides on the sync worker's MQTT client (the till's own account) and reads the outbox through its
own SQLite connection; the message is retained, so the server sees the last report after a restart.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone
from importlib import metadata

from . import outbox, topics
from .codec import encode
from .events import log_event
from .sender import OutboxSender
from .status import TillStatus
from .till_db import open_till_db

log = logging.getLogger("loyalty.sync.status")

STATUS_INTERVAL = 30.0  # seconds between two reports while connected (default of --status-every)
WAKE_INTERVAL = 0.5  # seconds: at most this long between two looks at the stop flag


def software_version() -> str:
    try:
        return metadata.version("loyalty-engine")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "unknown"


def read_status(conn: sqlite3.Connection, terminal: str, rules_version: str | None) -> TillStatus:
    """What the outbox says now: backlog, its oldest message, the last sequence written and acked."""
    backlog = outbox.backlog(conn)  # from the ends of the sequence range, like the sync worker
    oldest = conn.execute("SELECT created_at FROM outbox ORDER BY seq LIMIT 1").fetchone()
    oldest = oldest[0] if oldest else None
    last = conn.execute("SELECT max(seq) FROM outbox").fetchone()[0]
    acked = outbox.acked_to(conn)
    return TillStatus(
        schema=1,
        terminal=terminal,
        sent_at=datetime.now(timezone.utc),
        backlog=backlog,
        oldest_unacked_at=datetime.fromisoformat(oldest) if oldest else None,
        last_seq=max(last or 0, acked),
        last_acked_seq=acked,
        rules_version=rules_version,
        software=software_version(),
    )


class StatusReporter:
    """start()/stop() beside an OutboxSender (stop it before the sender); `reports` counts what was sent."""

    def __init__(
        self,
        sender: OutboxSender,
        rules_version: Callable[[sqlite3.Connection], str | None] | None = None,
        interval: float | None = None,
    ):
        self.sender = sender
        self.rules_version = rules_version or (lambda conn: None)
        self.interval = STATUS_INTERVAL if interval is None else interval
        self.reports = 0
        self.last: TillStatus | None = None
        self._stop = threading.Event()
        self._sent = threading.Condition()
        self._thread = threading.Thread(target=self._run, name=f"status-{sender.terminal}", daemon=True)

    def _run(self) -> None:
        conn = open_till_db(self.sender.db_path)
        generation, was_connected, next_due = 0, False, 0.0
        try:
            while not self._stop.is_set():
                wait = min(WAKE_INTERVAL, max(0.0, next_due - time.monotonic()))
                generation, status = self.sender.wait_change(generation, wait)
                if not status.connected:
                    was_connected = False
                    continue
                drained = status.backlog == 0 and self.last is not None and self.last.backlog > 0
                if not was_connected or drained or time.monotonic() >= next_due:
                    self._report(conn)
                    was_connected, next_due = True, time.monotonic() + self.interval
        finally:
            conn.close()

    def _report(self, conn: sqlite3.Connection) -> None:
        try:
            rules = self.rules_version(conn)
        except Exception as exc:  # noqa: BLE001 - a report without the rules version beats no report
            log_event(log, "rules_version_unreadable", logging.WARNING, reason=str(exc))
            rules = None
        status = read_status(conn, self.sender.terminal, rules)
        self.sender.client.publish(topics.status(self.sender.terminal), encode(status), qos=1, retain=True)
        with self._sent:
            self.last = status
            self.reports += 1
            self._sent.notify_all()
        log_event(log, "status_reported", terminal=status.terminal, backlog=status.backlog)

    def wait_report(self, predicate: Callable[[TillStatus], bool], timeout: float) -> TillStatus | None:
        """Wait until a report satisfying `predicate` was sent; None on timeout."""
        with self._sent:
            if self._sent.wait_for(lambda: self.last is not None and predicate(self.last), timeout):
                return self.last
        return None

    def start(self) -> StatusReporter:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.ident is not None:  # started
            self._thread.join(timeout=10)
