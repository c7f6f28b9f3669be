"""The web app's background refresher: folds new tickets and recomputes stale dashboard figures off the request.

One daemon thread per app, with its own connection (SQLite or PostgreSQL) each run; it works on one period at a time,
and a period already waiting or being refreshed is not asked for twice, so a hundred analysts looking at
stale figures start one recomputation. Pages serve the last figures meanwhile (stale-while-revalidate).
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import date

from sync.events import log_event

log = logging.getLogger("loyalty.refresher")
FOLD = None  # the key of a fold-only job (new tickets into the aggregates, no figures)


class Refresher:
    """`request(start, end)` asks for the figures of a period; `request_fold()` for the aggregates alone."""

    def __init__(self, db_path: str):
        self.db_path = db_path
        self._cond = threading.Condition()
        self._queue: list[tuple[date, date] | None] = []
        self._running: tuple[date, date] | None | bool = False  # False: idle
        self._thread: threading.Thread | None = None
        self._closed = False
        self.started = 0  # jobs started since the app began (tests and logs read it)

    def request(self, start: date, end: date) -> bool:
        """Queue a refresh of [start, end]; False when it is already queued or running."""
        return self._put((start, end))

    def request_fold(self) -> bool:
        return self._put(FOLD)

    def busy_with(self, start: date, end: date) -> bool:
        with self._cond:
            return (start, end) in self._queue or self._running == (start, end)

    @property
    def idle(self) -> bool:
        with self._cond:
            return not self._queue and self._running is False

    def wait_idle(self, timeout: float) -> bool:
        """Block until nothing is queued or running (True), or `timeout` seconds pass (False)."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._queue and self._running is False, timeout)

    def close(self, timeout: float = 30) -> None:
        """Let the running job finish, drop the queued ones, stop the thread."""
        with self._cond:
            self._closed = True
            self._queue.clear()
            self._cond.notify_all()
            thread = self._thread
        if thread:
            thread.join(timeout)

    def _put(self, job) -> bool:
        with self._cond:
            if self._closed or job in self._queue or self._running == job:
                return False
            self._queue.append(job)
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="dashboard-refresher", daemon=True)
                self._thread.start()
            self._cond.notify_all()
            return True

    def _loop(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._queue or self._closed)
                if self._closed:
                    self._running = False
                    self._cond.notify_all()
                    return
                job = self._running = self._queue.pop(0)
                self.started += 1
            try:
                self._run(job)
            except Exception as exc:  # noqa: BLE001 - a failed refresh must not kill the thread; the page stays stale
                log_event(log, "dashboard_refresh_failed", logging.ERROR, period=_name(job), reason=repr(exc))
            finally:
                with self._cond:
                    self._running = False
                    self._cond.notify_all()

    def _run(self, job) -> None:
        from server.storage.connection import open_connection
        from . import aggregate, dashboard

        t0 = time.perf_counter()
        conn = open_connection(self.db_path)  # its own connection: never a request's
        try:
            if job is FOLD:
                folded = aggregate.refresh(conn)["tickets"]
            else:
                folded = aggregate.pending(conn)
                dashboard.dashboard(conn, *job)
        finally:
            conn.close()
        log_event(
            log,
            "dashboard_refreshed",
            period=_name(job),
            tickets_folded=folded,
            seconds=round(time.perf_counter() - t0, 3),
        )


def _name(job) -> str:
    return "aggregates" if job is FOLD else f"{job[0]}..{job[1]}"
