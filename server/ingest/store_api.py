"""The server's ingest store behind one interface: SQLite (a file path) or PostgreSQL (a URL).

`open_store(target)` picks the implementation; server.ingest.receive only sees `TicketStore`.
"""
from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Protocol

from programme.ticket import Ticket

from server.errors import StoreError
from server.ingest.store import BatchResult, DeadLetter

POSTGRES_SCHEMES = ("postgresql://", "postgres://")


class TicketStore(Protocol):
    """What the ingest path needs from the server's database."""

    path: str

    def ingest(self, tickets: list[tuple[str, Ticket, bytes]], dead: list[DeadLetter], now: str) -> BatchResult:
        """Write a batch in one transaction, idempotently; returns counts, acks and gaps per terminal."""

    def register_till(self, terminal: str, public_key: str, now: str) -> None: ...

    def requeue(self, now: str) -> dict: ...

    def acks(self) -> dict[str, int]: ...

    def ack_digest(self, terminal: str, seq: int) -> str | None: ...

    def balances(self, cards: list[str]) -> dict[str, int]: ...

    def balances_for_till(self, terminal: str, cards: list[str]) -> tuple[dict[str, int], int]: ...

    def max_seq(self, terminal: str) -> int: ...

    def ticket_count(self) -> int: ...

    def stats(self) -> dict: ...

    def dead_letters(self) -> list[dict]: ...

    def close(self) -> None: ...


def is_postgres(target: str | Path) -> bool:
    return str(target).startswith(POSTGRES_SCHEMES)


def _write_errors() -> tuple[type[BaseException], ...]:
    try:
        import psycopg
    except ImportError:  # pragma: no cover - psycopg is a dependency; SQLite works without it
        return (sqlite3.Error,)
    return (sqlite3.Error, psycopg.Error)


def _data_errors() -> tuple[type[BaseException], ...]:
    try:
        import psycopg
    except ImportError:  # pragma: no cover
        return (sqlite3.IntegrityError, sqlite3.DataError, OverflowError)
    return (sqlite3.IntegrityError, sqlite3.DataError, OverflowError, psycopg.IntegrityError, psycopg.DataError)


# A batch that fails with one of these rolled back whole: ingest tries it again later.
WRITE_ERRORS = _write_errors()
# ...except these, which are about what a message holds, not about the database: ingest sets the
# message aside as a dead letter (server.ingest.receive) instead of trying the same batch for ever.
DATA_ERRORS = _data_errors()


def open_store(target: str | Path, require_registered: bool = False) -> TicketStore:
    """A SQLite Store for a file path, a PostgreSQL store for a postgresql:// URL.

    `require_registered`: quarantine the tickets of tills with no registered key (server.ingest.store.Store)."""
    if is_postgres(target):
        import psycopg

        from server.ingest.store_pg import PgStore

        try:
            return PgStore(str(target), require_registered)
        except psycopg.OperationalError as exc:
            raise StoreError(f"cannot open the PostgreSQL database {redacted(str(target))}: "
                             f"{str(exc).strip()}; check the URL and that the server runs") from None
    from server.ingest.store import Store

    return Store(target, require_registered)


def redacted(url: str) -> str:
    """The URL without its password, to show in messages and logs."""
    scheme, sep, rest = url.partition("://")
    if "@" not in rest:
        return url
    userinfo, _, host = rest.rpartition("@")
    return f"{scheme}{sep}{userinfo.split(':', 1)[0]}@{host}"
