"""The web app's database connections: one per request, taken from a few kept open on PostgreSQL.

Opening a PostgreSQL connection costs more than most desk pages (bench/desk_pg.py), so the app keeps
up to `size` idle ones and hands one to each request; a connection comes back rolled back if a
transaction was left open. An idle one is checked before it is handed out (one round trip), so one
that PostgreSQL closed meanwhile (a restart, an idle timeout) is dropped, not shown as an error page.
A SQLite file is opened per request as before: it costs nothing.
"""
from __future__ import annotations

import queue

from ..dbconn import is_postgres
from ..deskdb import open_db


class Connections:
    def __init__(self, target: str, size: int):
        self.target, self.size = target, size
        self.pooled = is_postgres(target)
        self._idle: queue.LifoQueue = queue.LifoQueue()

    def take(self):
        while self.pooled:
            try:
                conn = self._idle.get_nowait()
            except queue.Empty:
                break
            if self._alive(conn):
                return conn
        return open_db(self.target, create=False)

    @staticmethod
    def _alive(conn) -> bool:
        if conn.closed or conn.raw.broken:
            return False
        try:
            conn.execute("SELECT 1")
        except Exception:  # noqa: BLE001 - whatever went wrong with it, a new connection replaces it
            conn.close()
            return False
        return True

    def give_back(self, conn) -> None:
        if not self.pooled or conn.closed or conn.raw.broken:
            conn.close()
            return
        try:
            conn.rollback()  # a request that failed inside a transaction leaves nothing open
        except Exception:  # noqa: BLE001 - a connection that cannot even roll back is not kept
            conn.close()
            return
        if self._idle.qsize() >= self.size:
            conn.close()
        else:
            self._idle.put(conn)

    def close(self) -> None:
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                return
