"""The server's ingest store behind one interface: SQLite (a file path) or PostgreSQL (a URL).

`open_store(target)` picks the implementation; server.ingest.receive only sees `TicketStore`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from programme.ticket import Ticket

from server.errors import StoreError
from server.storage.connection import is_postgres, redacted
from server.ingest.store import BatchResult, DeadLetter


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


def open_store(target: str | Path, require_registered: bool = False) -> TicketStore:
    """A SQLite Store for a file path, a PostgreSQL store for a postgresql:// URL.

    `require_registered`: quarantine the tickets of tills with no registered key (server.ingest.store.Store)."""
    if is_postgres(target):
        import psycopg

        from server.ingest.store_pg import PgStore

        try:
            return PgStore(str(target), require_registered)
        except psycopg.OperationalError as exc:
            raise StoreError(
                f"cannot open the PostgreSQL database {redacted(str(target))}: "
                f"{str(exc).strip()}; check the URL and that the server runs"
            ) from None
    from server.ingest.store import Store

    return Store(target, require_registered)
