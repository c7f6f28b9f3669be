"""Rules versions the till received: every one kept in its journal, the one in force at a ticket's time used.

Until a version is received the shipped default (programme/default_rules.toml) is in force.
The rules message comes in head office's signed envelope (sync/signed.py): anything unsigned, badly
signed or older than the message held is refused and logged; the till keeps the versions it has.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from datetime import datetime

from programme.errors import RulesError
from programme.points import default_rules
from programme.rules import RuleSet, parse_rules, version_in_force
from sync import topics
from sync.broker_url import BrokerUrl
from sync.errors import SyncError
from sync.events import log_event
from sync.mqtt import make_client, start, stop, till_client_id
from sync.rules_message import decode_bundle
from sync.signed import Trust
from sync.till_db import open_till_db

from .keys import hold, open_fresh

log = logging.getLogger("loyalty.till.rules")

SCHEMA = """CREATE TABLE IF NOT EXISTS rules_versions (
    version TEXT PRIMARY KEY, effective_from TEXT NOT NULL, toml TEXT NOT NULL, received_at TEXT NOT NULL)"""

_parsed: dict[str, RuleSet] = {}  # TOML text -> rules, so a sale does not parse anything


def _parse(text: str) -> RuleSet:
    rules = _parsed.get(text)
    if rules is None:
        rules = _parsed[text] = parse_rules(text, "received rules")
    return rules


def receive(conn: sqlite3.Connection, data: bytes, received_at: str, trust: Trust) -> list[str]:
    """Keep every version of a signed rules message not yet known; returns the versions added.
    SyncError (SignatureError, CodecError) when it is refused: nothing is kept then."""
    opened = open_fresh(conn, trust, "rules", data)
    bundle = decode_bundle(opened.payload)
    added = []
    with conn:  # one transaction, committed on connections that are not in autocommit mode too
        conn.execute(SCHEMA)
        added = _keep(conn, bundle, received_at)
        hold(conn, opened)
    return added


def _keep(conn: sqlite3.Connection, bundle, received_at: str) -> list[str]:
    added = []
    for published in bundle.versions:
        try:
            rules = _parse(published.toml)
        except RulesError as exc:
            log_event(log, "rules_refused", logging.WARNING, version=published.version, reason=str(exc))
            continue
        cur = conn.execute(
            "INSERT OR IGNORE INTO rules_versions VALUES (?, ?, ?, ?)",
            (rules.version, rules.effective_from.isoformat(), published.toml, received_at),
        )
        if cur.rowcount:
            added.append(rules.version)
    return added


def versions(conn: sqlite3.Connection) -> list[RuleSet]:
    try:
        rows = conn.execute("SELECT version, toml FROM rules_versions").fetchall()
    except sqlite3.OperationalError:  # no version received yet: the table is created on the first one
        rows = []
    return [default_rules(), *_readable(rows)]


_left_aside: set[str] = set()  # kept texts that no longer read (logged once)


def _readable(rows) -> list[RuleSet]:
    """The kept versions that still read: one kept before a bound it breaks existed is left aside, logged,
    so the version in force before it applies; a sale never fails on it."""
    out = []
    for version, text in rows:
        if text in _left_aside:
            continue
        try:
            out.append(_parse(text))
        except RulesError as exc:
            _left_aside.add(text)
            log_event(log, "rules_refused", logging.WARNING, version=version, reason=str(exc))
    return out


def in_force(conn: sqlite3.Connection, at: datetime) -> RuleSet:
    return version_in_force(versions(conn), at) or default_rules()


def rules_version_now(conn: sqlite3.Connection) -> str:
    """The version of the rules in force now (the till's status report names it)."""
    from programme.ticket import utc_now

    return in_force(conn, utc_now()).version


class RulesListener:
    """Subscribes to the retained rules topic and keeps every version in the till's journal."""

    def __init__(self, db_path: str, url: BrokerUrl, terminal: str, trust: Trust | None = None):
        self.db_path = db_path
        self.trust = trust if trust is not None else Trust.default()  # head office's key: checks the rules
        self.received = threading.Event()
        self.client = make_client(url, till_client_id(terminal, "rules"))
        self.client.on_connect = lambda c, *a: c.subscribe(topics.RULES, qos=1)
        self.client.on_message = self._on_message
        self.url = url

    def _on_message(self, client, userdata, message) -> None:
        from programme.ticket import utc_now

        conn = open_till_db(self.db_path, autocommit=True)
        try:
            added = receive(conn, message.payload, utc_now().isoformat(), self.trust)
            log_event(log, "rules_received", versions=added)
        except SyncError as exc:
            log_event(log, "rules_refused", logging.WARNING, reason=str(exc))
        finally:
            conn.close()
        self.received.set()

    def start(self) -> RulesListener:
        start(self.client, self.url)
        return self

    def stop(self) -> None:
        stop(self.client)
