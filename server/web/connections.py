"""The web app's database connections: one per request, from a psycopg_pool on PostgreSQL.

Opening a PostgreSQL connection costs more than most desk pages (bench/desk_pg.py), so the app keeps
up to `size` of them open (psycopg_pool's ConnectionPool): each is checked before it is handed out,
so one that PostgreSQL closed meanwhile (a restart, an idle timeout) is replaced, not shown as an
error page, and comes back rolled back if a request left a transaction open. A SQLite file is opened
per request as before: it costs nothing.
"""

from __future__ import annotations

from server.storage.connection import PgConnection, is_postgres
from server.storage.desk_db import configure_pg, open_db
from ..errors import StoreError

WAIT_S = 10.0  # how long a request waits for a connection before its page says why it has none


class Connections:
    def __init__(self, target: str, size: int):
        self.target, self.size = target, size
        self.pooled = is_postgres(target)
        self._pool = None
        if self.pooled:
            from psycopg_pool import ConnectionPool

            self._pool = ConnectionPool(
                str(target),
                min_size=1,
                max_size=size,
                kwargs={"autocommit": True},
                configure=configure_pg,
                check=ConnectionPool.check_connection,
                name="desk",
                open=True,
            )

    def take(self):
        if not self.pooled:
            return open_db(self.target, create=False)
        from psycopg_pool import PoolTimeout

        from server.storage.connection import redacted

        try:
            return PgConnection(self._pool.getconn(timeout=WAIT_S))
        except PoolTimeout:
            raise StoreError(
                f"no connection to the PostgreSQL database {redacted(self.target)} within "
                f"{WAIT_S:g} s: check that it runs and accepts connections"
            ) from None

    def give_back(self, conn) -> None:
        if not self.pooled:
            conn.close()
            return
        self._pool.putconn(conn.raw)  # rolled back if left in a transaction; a broken one is dropped

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
