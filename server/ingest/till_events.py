"""Head office's side of the tills' journal events (NF525): line voids, cancelled tickets, reprints,
training tickets and archivings, received over MQTT (`loyalty/v1/up/{till}/events`), kept once per
(till, chain, number), checked against the till's registered key, acked after the commit; and the queries
the ticket explorer and the exceptions page call. SQLite and PostgreSQL alike (server/storage/connection.py).
"""

from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

import paho.mqtt.client as mqtt

from programme.journal_event import EventError, JournalEvent, decode_event, event_hash, verify_chain, verify_event
from programme.signing import SignatureError, load_public_key
from sync import topics
from sync.broker_url import BrokerUrl
from sync.codec import SCHEMA_VERSION, Ack, encode, payload_digest
from sync.events import log_event
from sync.mqtt import make_client

from server.errors import ServerError

log = logging.getLogger("loyalty.till_events")

VERIFIED, FLAGGED = "verified", "flagged"
CANCELLATIONS = ("ticket_cancel", "line_void")
MAX_PERIOD_DAYS = 366  # the exceptions query reads at most a year
MAX_THRESHOLD = 1_000_000
PAGE_SIZE = 50
EXPLORER_KINDS = {
    "cancelled": ("ticket_cancel",),
    "voids": ("line_void",),
    "reprints": ("reprint",),
    "training": ("training_ticket",),
}


class TillEventError(ServerError):
    """A till event or a query about them could not be handled."""


@dataclass(frozen=True)
class Stored:
    """What became of one event message: `status` verified, flagged (kept, with `reason`), duplicate, or
    refused (not an event of that till: kept nowhere but the log, and not acked)."""

    status: str
    event: JournalEvent | None
    reason: str = ""


def _reason(conn, event: JournalEvent) -> str:
    row = conn.execute("SELECT public_key FROM till_keys WHERE terminal = ?", (event.terminal,)).fetchone()
    if row is None:
        return f"till {event.terminal} has no registered key: register it with `loyalty server register-till`"
    try:
        verify_event(event, load_public_key(row[0]))
    except SignatureError as exc:
        return str(exc)
    lines = sum(line.total_cents for line in event.lines)
    if event.total_cents != lines:  # recomputed here: a till is not trusted
        return f"{event.name}: its total {event.total_cents} is not the sum of its lines {lines}"
    other = conn.execute(
        "SELECT 1 FROM till_events WHERE terminal = ? AND chain = ? AND seq = ?",
        (event.terminal, event.chain, event.seq),
    ).fetchone()
    if other:
        return f"{event.name} was already received with other content: one of the two was altered"
    return ""


def store_event(conn, payload: bytes, terminal: str, now: str) -> Stored:
    """Keep one event message of `terminal` (the till of its topic), in its own transaction."""
    try:
        event = decode_event(payload)
    except EventError as exc:
        return Stored("refused", None, str(exc))
    if event.terminal != terminal:
        return Stored(
            "refused", None, f"terminal mismatch: topic is for {terminal} but the event says {event.terminal}"
        )
    digest = event_hash(event)
    with conn:
        if conn.execute(
            "SELECT 1 FROM till_events WHERE terminal = ? AND chain = ? AND seq = ? AND hash = ?",
            (event.terminal, event.chain, event.seq, digest),
        ).fetchone():
            return Stored("duplicate", event)
        reason = _reason(conn, event)
        conn.execute(
            "INSERT INTO till_events (terminal, chain, seq, kind, at, store, cashier, after_seq, ticket_id, copy, "
            "total_cents, hash, status, reason, received_at, payload) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                event.terminal,
                event.chain,
                event.seq,
                event.kind,
                event.at.isoformat(),
                event.store,
                event.cashier,
                event.after_seq,
                event.ticket_id,
                event.copy,
                event.total_cents,
                digest,
                FLAGGED if reason else VERIFIED,
                reason,
                now,
                payload.decode(),
            ),
        )
    return Stored(FLAGGED if reason else VERIFIED, event, reason)


class EventIngestor:
    """Subscribe to every till's events, keep them, ack each after its commit; start()/stop()."""

    def __init__(self, target: str, broker: BrokerUrl, client_id: str = "loyalty-server-events"):
        self.target = str(target)
        self.broker = broker
        self.client = make_client(broker, client_id, clean_session=False)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self._inbox: queue.Queue = queue.Queue()
        self._connected = threading.Event()
        self._thread = threading.Thread(target=self._run, name="till-events", daemon=True)
        self.stored = 0

    def _on_connect(self, client, userdata, flags, reason_code, properties):
        if reason_code.is_failure:
            log_event(log, "connect_refused", logging.WARNING, reason=str(reason_code))
            return
        client.subscribe(topics.EVENTS_SUBSCRIPTION, qos=1)
        self._connected.set()

    def _on_message(self, client, userdata, message: mqtt.MQTTMessage):
        self._inbox.put((message.topic, bytes(message.payload)))

    def _run(self) -> None:
        from server.storage.connection import open_connection

        conn = open_connection(self.target)
        try:
            while True:
                item = self._inbox.get()
                if item is None:
                    return
                try:
                    self.handle(conn, *item)
                except Exception as exc:  # noqa: BLE001 - not acked: the till sends it again; ingest goes on
                    log_event(
                        log, "event_not_stored", logging.ERROR, topic=item[0], error=f"{type(exc).__name__}: {exc}"
                    )
        finally:
            conn.close()

    def handle(self, conn, topic: str, payload: bytes) -> Stored:
        terminal = topics.terminal_of_up_topic(topic, "events")
        if terminal is None:
            return Stored("refused", None, f"unexpected topic {topic!r}")
        result = store_event(conn, payload, terminal, datetime.now(timezone.utc).isoformat())
        if result.status == "refused":
            log_event(log, "event_refused", logging.WARNING, topic=topic, reason=result.reason)
            return result
        if result.reason:
            log_event(log, "event_flagged", logging.WARNING, topic=topic, reason=result.reason)
        self.stored += result.status != "duplicate"
        ack = Ack(
            schema=SCHEMA_VERSION,
            terminal=terminal,
            acked_to=result.event.seq,
            digest=payload_digest(payload),
            at=datetime.now(timezone.utc),
            flow="events",
        )
        self.client.publish(topics.acks(terminal), encode(ack), qos=1)
        return result

    def start(self) -> EventIngestor:
        self._thread.start()
        self.client.connect_async(self.broker.host, self.broker.port)
        self.client.loop_start()
        return self

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    def stop(self) -> None:
        self._inbox.put(None)
        self._thread.join(timeout=10)
        self.client.disconnect()
        self.client.loop_stop()

    def __enter__(self) -> EventIngestor:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


# -- queries ------------------------------------------------------------------------------------
def _rows(conn, sql: str, args=()) -> list[dict]:
    return [dict(row) for row in conn.execute(sql, args).fetchall()]


EVENT_COLUMNS = (
    "terminal, chain, seq, kind, at, store, cashier, after_seq, ticket_id, copy, total_cents, status, reason"
)


def events_of_ticket(conn, ticket_id: str, terminal: str, seq: int, closed_at) -> list[dict]:
    """A ticket's events at head office: its reprints, and the line voids of the sale that became it (those
    after the till's previous ticket and its last cancelled basket, up to the ticket's close)."""
    if isinstance(closed_at, datetime):
        closed_at = closed_at.astimezone(timezone.utc).isoformat()
    during = _rows(
        conn,
        f"SELECT {EVENT_COLUMNS} FROM till_events WHERE terminal = ? AND chain = 'events' "
        "AND after_seq = ? AND kind IN ('line_void', 'ticket_cancel') AND at <= ? ORDER BY seq",
        (terminal, seq - 1, str(closed_at)),
    )
    last_cancel = max((i for i, e in enumerate(during) if e["kind"] == "ticket_cancel"), default=-1)
    reprints = _rows(
        conn,
        f"SELECT {EVENT_COLUMNS} FROM till_events WHERE terminal = ? AND ticket_id = ? "
        "AND kind = 'reprint' ORDER BY seq",
        (terminal, ticket_id),
    )
    return during[last_cancel + 1 :] + reprints


def search(
    conn,
    what: str,
    *,
    store: str = "",
    terminal: str = "",
    start: date | None = None,
    end: date | None = None,
    page: int = 1,
) -> list[dict]:
    """A page of events of one explorer kind (cancelled, voids, reprints, training), newest first."""
    kinds = EXPLORER_KINDS.get(what)
    if kinds is None:
        raise TillEventError(f"events {what!r} not known: choose {', '.join(EXPLORER_KINDS)}")
    sql = f"SELECT {EVENT_COLUMNS} FROM till_events WHERE kind IN ({', '.join('?' * len(kinds))})"
    args: list = list(kinds)
    if store:
        sql, args = sql + " AND store = ?", [*args, store]
    if terminal:
        sql, args = sql + " AND terminal = ?", [*args, terminal]
    if start:
        sql, args = sql + " AND at >= ?", [*args, _utc_start(start)]
    if end:
        sql, args = sql + " AND at < ?", [*args, _utc_start(end + timedelta(days=1))]
    sql += " ORDER BY at DESC, terminal, seq DESC LIMIT ? OFFSET ?"
    return _rows(conn, sql, (*args, PAGE_SIZE, (page - 1) * PAGE_SIZE))


def _utc_start(day: date) -> str:
    """The UTC instant a store's (Paris) day begins, as stored times are written."""
    from programme.closure import local_start

    return local_start(day).isoformat()


def cancellations(conn, start: date, end: date, threshold: int, kinds: tuple[str, ...] = CANCELLATIONS) -> dict:
    """Tills and cashiers with at least `threshold` cancellations (cancelled tickets and line voids by default)
    in the store days `start` to `end` included: {"tills": [...], "cashiers": [...]}, most first. Each row
    has the till (and cashier), the count, the cents cancelled and the count per kind; an event counts once,
    flagged ones too (a till without a registered key) unless head office holds it verified. For the
    exceptions page."""
    if end < start:
        raise TillEventError(f"the period ends ({end}) before it starts ({start}): give the earlier day first")
    if (end - start).days >= MAX_PERIOD_DAYS:
        raise TillEventError(f"the period is longer than {MAX_PERIOD_DAYS} days: give at most a year")
    if not 1 <= threshold <= MAX_THRESHOLD:
        raise TillEventError(f"threshold {threshold} is outside 1 to {MAX_THRESHOLD}: give a number of cancellations")
    unknown = [k for k in kinds if k not in CANCELLATIONS + ("reprint",)]
    if unknown or not kinds:
        raise TillEventError(
            f"kinds {unknown or list(kinds)} not known: choose among ticket_cancel, line_void, reprint"
        )
    result: dict[str, list[dict]] = {"tills": [], "cashiers": []}
    marks = ", ".join("?" * len(kinds))
    args = (*kinds, _utc_start(start), _utc_start(end + timedelta(days=1)))
    for name, group in (("tills", "terminal, store"), ("cashiers", "terminal, store, cashier")):
        # One row per event: a flagged copy of an event head office also holds verified does not count again.
        rows = _rows(
            conn,
            f"SELECT {group}, kind, count(*) AS n, sum(total_cents) AS cents FROM till_events t "
            f"WHERE chain = 'events' AND kind IN ({marks}) AND at >= ? AND at < ? "
            "AND (status = 'verified' OR NOT EXISTS (SELECT 1 FROM till_events v WHERE "
            "v.terminal = t.terminal AND v.chain = t.chain AND v.seq = t.seq "
            "AND v.status = 'verified')) "
            f"GROUP BY {group}, kind",
            args,
        )
        merged: dict[tuple, dict] = {}
        for row in rows:
            key = tuple(row[c.strip()] for c in group.split(","))
            entry = merged.setdefault(
                key, {**{c.strip(): row[c.strip()] for c in group.split(",")}, "count": 0, "cents": 0, "by_kind": {}}
            )
            entry["count"] += row["n"]
            entry["cents"] += row["cents"] or 0
            entry["by_kind"][row["kind"]] = row["n"]
        result[name] = sorted(
            (e for e in merged.values() if e["count"] >= threshold),
            key=lambda e: (-e["count"], e["terminal"], e.get("cashier", "")),
        )
    return result


def held_events(conn, terminal: str) -> list[JournalEvent]:
    """The till's verified journal events at head office, for checking its closures' event totals."""
    rows = conn.execute(
        "SELECT payload FROM till_events WHERE terminal = ? AND status = ? ORDER BY chain, seq", (terminal, VERIFIED)
    ).fetchall()
    return [decode_event(row[0]) for row in rows]


def chain_problems(conn, terminal: str) -> list[str]:
    """A controller's check of one till's events at head office: signatures with its registered key, and
    each chain unbroken from its first event."""
    row = conn.execute("SELECT public_key FROM till_keys WHERE terminal = ?", (terminal,)).fetchone()
    if row is None:
        raise TillEventError(f"till {terminal} has no registered key: register it with `loyalty server register-till`")
    return verify_chain(held_events(conn, terminal), load_public_key(row[0]))
