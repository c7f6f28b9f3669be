"""The rules versions head office has published (`rules_versions`): each recorded once, read back parsed.

The ingest's points check (server.ingest.rules_check) and the desk's jobs (expiry, cheques, a customer's
standing) both read them from here.
"""

from __future__ import annotations

from collections.abc import Container, Iterator
from datetime import date, datetime, time, timezone

from programme.errors import RulesError
from programme.points import default_rules
from programme.rules import RuleSet, parse_rules, version_in_force
from server.storage.connection import Connection


def record_version(conn: Connection, text: str, now: str) -> RuleSet:
    """Record a published rules version; the same version with other content is refused."""
    rules = parse_rules(text)
    row = conn.execute("SELECT toml FROM rules_versions WHERE version = ?", (rules.version,)).fetchone()
    if row and row[0] != text:
        raise RulesError(
            f"rules version {rules.version} is already recorded with other content: "
            "a published version never changes; give the new rules a new version"
        )
    conn.execute(
        "INSERT OR IGNORE INTO rules_versions VALUES (?, ?, ?, ?)",
        (rules.version, rules.effective_from.isoformat(), text, now),
    )
    return rules


def version_count(conn: Connection) -> int:
    return conn.execute("SELECT count(*) FROM rules_versions").fetchone()[0]


def recorded_versions(conn: Connection, skip: Container[str] = ()) -> Iterator[tuple[str, RuleSet | RulesError]]:
    """Each recorded version not in `skip`, parsed; a version that no longer passes parse_rules (recorded
    before a bound it is now past) comes with its error instead."""
    for version, text in conn.execute("SELECT version, toml FROM rules_versions"):
        if version in skip:
            continue
        try:
            yield version, parse_rules(text, f"rules version {version}")
        except RulesError as exc:
            yield version, exc


def rules_in_force(conn: Connection, as_of: date) -> RuleSet:
    """The rules version in force at the start of `as_of` among those the server knows (the shipped default
    when none is)."""
    known = [default_rules(), *(r for _, r in recorded_versions(conn) if isinstance(r, RuleSet))]
    return version_in_force(known, datetime.combine(as_of, time(), timezone.utc)) or default_rules()
