"""Head office's article catalogue: every imported version kept, the latest of each scope pushed to the tills.

`loyalty catalogue import FILE.csv` reads the ERP's export (programme/catalogue.py: a bad line refuses the
whole file and nothing changes), records a new version of each scope the file fills ("all", or a store such
as S001) in `catalogue_versions`, then publishes each one retained on its topic (sync/topics.py), signed with
head office's key like the rules. A version is never changed: an import makes the next one.
Either engine (SQLite file or PostgreSQL URL) through the server's store connection.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from programme.catalogue import (
    Article,
    CatalogueError,
    CatalogueVersion,
    SCHEMA_VERSION,
    decode_version,
    encode_version,
    parse_csv,
)
from server.storage.connection import joined_or_own_transaction

# The broker refuses a packet past sync.broker_config.MAX_PACKET_SIZE (4 MiB); the envelope adds a little.
MAX_PAYLOAD_BYTES = 4 * 1024 * 1024 - 64 * 1024


@dataclass(frozen=True)
class Recorded:
    """A version made by an import: its message payload (to sign and publish) and what it holds."""

    version: CatalogueVersion
    payload: bytes

    @property
    def scope(self) -> str:
        return self.version.scope


def import_csv(conn, text: str, source: str, now: str, store: str | None = None) -> list[Recorded]:
    """Record the file's articles as the next version of each scope it fills, in one transaction.
    CatalogueError (nothing recorded) when a line is wrong or a scope's message would be too large."""
    scopes = parse_csv(text, store)
    made = []
    with joined_or_own_transaction(conn):
        for scope, articles in scopes.items():
            made.append(_record(conn, scope, articles, source, now))
    return made


def _record(conn, scope: str, articles: list[Article], source: str, now: str) -> Recorded:
    last = conn.execute("SELECT max(version) FROM catalogue_versions WHERE scope = ?", (scope,)).fetchone()[0]
    version = CatalogueVersion(SCHEMA_VERSION, scope, (last or 0) + 1, now, articles)
    payload = encode_version(version)
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise CatalogueError(
            [
                f"the catalogue of {scope} is {len(payload)} bytes, more than the broker carries in "
                f"one message ({MAX_PAYLOAD_BYTES}): split the file by store (--store)"
            ]
        )
    conn.execute(
        "INSERT INTO catalogue_versions (scope, version, imported_at, source, articles, payload) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (scope, version.version, now, source[:200], len(articles), payload.decode()),
    )
    return Recorded(version, payload)


def latest(conn) -> list[Recorded]:
    """The latest version of every scope (what the tills should hold), "all" first."""
    rows = conn.execute(
        "SELECT c.payload FROM catalogue_versions c WHERE c.version = (SELECT max(version) FROM "
        "catalogue_versions l WHERE l.scope = c.scope) ORDER BY c.scope"
    ).fetchall()
    made = [Recorded(decode_version(row[0].encode()), row[0].encode()) for row in rows]
    return sorted(made, key=lambda r: (r.scope != "all", r.scope))


def versions(conn) -> list[dict]:
    """Every version imported, newest first: scope, version, imported_at, source, articles."""
    rows = conn.execute(
        "SELECT scope, version, imported_at, source, articles FROM catalogue_versions "
        "ORDER BY imported_at DESC, scope, version DESC"
    ).fetchall()
    return [dict(zip(("scope", "version", "imported_at", "source", "articles"), row)) for row in rows]


def publish(recorded: list[Recorded], push: Callable[[str, bytes], None]) -> None:
    """Push each version retained on its scope's topic; `push(topic, payload)` signs and publishes
    (sync.retained.publish_signed in the command)."""
    from sync import topics

    for made in recorded:
        push(topics.catalogue(made.scope), made.payload)
