"""The till's sync worker: sends the outbox over MQTT and forgets messages only on the server's ack.

The outbox table is the queue; the MQTT client is a pipe. On every (re)connect, and whenever acks
stop coming for ACK_TIMEOUT seconds, everything not yet acked is sent again: the server is
idempotent, so a resend costs bandwidth, never a doubled ticket.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone

import msgspec
import paho.mqtt.client as mqtt

from . import outbox, topics
from .broker_url import BrokerUrl
from .codec import BATCH_PREFIX, MAX_BATCH_BYTES, decode_ack, decode_command, encode_batch
from .errors import CodecError
from .events import log_event
from .mqtt import make_client, start, stop, till_client_id
from .till_db import open_till_db

log = logging.getLogger("loyalty.sync")

ACK_TIMEOUT = 10.0  # seconds without ack progress, messages out: resend from the last ack
POLL_INTERVAL = 0.2  # seconds between looks at the outbox when idle
WINDOW = 2000  # messages sent and not yet acked, at most
BATCH = 200  # messages read from the outbox at once
BATCH_TICKETS = 50  # ticket messages sent together in one MQTT message, at most (a backlog only)


@dataclass(frozen=True)
class SyncStatus:
    connected: bool
    backlog: int
    acked_to: int
    last_ack_at: str | None
    resends: int


def batches(rows: list[tuple[int, str, bytes]]) -> list[list[tuple[int, str, bytes]]]:
    """Outbox rows in runs for one MQTT message each: same topic, at most BATCH_TICKETS and MAX_BATCH_BYTES.

    A till that keeps up sends its tickets one by one, as they close; a backlog (a day offline)
    goes in batches, which spares the MQTT work per message on the till, the broker and the server.
    """
    runs: list[list] = []
    size = 0
    for row in rows:
        room = size + len(row[2]) + 1 + len(BATCH_PREFIX) + 2 <= MAX_BATCH_BYTES
        if runs and len(runs[-1]) < BATCH_TICKETS and runs[-1][0][1] == row[1] and room:
            runs[-1].append(row)
            size += len(row[2]) + 1
        else:
            runs.append([row])
            size = len(row[2])
    return runs


def open_db(path: str) -> sqlite3.Connection:
    conn = open_till_db(path)
    outbox.ensure_schema(conn)
    return conn


class OutboxSender:
    """Run with start()/stop() or as a context manager; wait_synced() waits for a zero backlog."""

    def __init__(self, db_path: str, terminal: str, broker: BrokerUrl, client_id: str | None = None):
        self.db_path = str(db_path)
        self.terminal = terminal
        self.broker = broker
        self.client = make_client(broker, client_id or till_client_id(terminal, "outbox"), clean_session=False)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._changed = threading.Condition()
        self._connected = False
        self._rewind = True
        self._acks: dict[int, str] = {}  # acked_to -> digest, received and not yet looked at
        self._resend_from: int | None = None
        self._status = SyncStatus(False, 0, 0, None, 0)
        self._generation = 0
        self.refused_acks = 0
        self._thread = threading.Thread(target=self._run, name=f"sync-{terminal}", daemon=True)

    # -- MQTT callbacks (paho's network thread) --------------------------------------------
    def _on_connect(self, client, userdata, flags, reason_code, properties):
        if reason_code.is_failure:
            log_event(log, "connect_refused", logging.WARNING, terminal=self.terminal, reason=str(reason_code))
            return
        client.subscribe([(topics.acks(self.terminal), 1), (topics.commands(self.terminal), 1)])
        with self._lock:
            self._connected = True
            self._rewind = True
        log_event(log, "connected", terminal=self.terminal, broker=str(self.broker))
        self._wake.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties):
        with self._lock:
            self._connected = False
        level = logging.WARNING if reason_code.is_failure else logging.INFO
        log_event(log, "disconnected", level, terminal=self.terminal, reason=str(reason_code))

    def _on_message(self, client, userdata, message: mqtt.MQTTMessage):
        try:
            if message.topic.endswith("/acks"):
                ack = decode_ack(message.payload)
                if ack.flow is not msgspec.UNSET:
                    return  # a journal event's ack: terminal/event_sender.py's
                with self._lock:
                    self._acks[ack.acked_to] = ack.digest
            else:
                command = decode_command(message.payload)
                with self._lock:
                    self._resend_from = min(self._resend_from or command.from_seq, command.from_seq)
                log_event(log, "resend_requested", terminal=self.terminal, from_seq=command.from_seq)
        except CodecError as exc:
            log_event(log, "bad_down_message", logging.WARNING, topic=message.topic, reason=str(exc))
        self._wake.set()

    # -- worker thread -----------------------------------------------------------------------
    def _run(self) -> None:
        conn = open_db(self.db_path)
        acked = outbox.acked_to(conn)
        last_ack_at = outbox.state(conn).get("last_ack_at")
        cursor = acked
        last_progress = time.monotonic()
        resends = 0
        try:
            while not self._stop.is_set():
                self._wake.clear()
                with self._lock:
                    acks, self._acks = self._acks, {}
                    connected = self._connected
                    rewind, self._rewind = self._rewind, False
                    resend_from, self._resend_from = self._resend_from, None
                received = self._valid_ack(conn, acks, acked)
                if received > acked:
                    last_ack_at = datetime.now(timezone.utc).isoformat()
                    outbox.acknowledge(conn, received, last_ack_at)
                    acked, last_progress = received, time.monotonic()
                    cursor = max(cursor, acked)
                if rewind or resend_from is not None:
                    cursor = acked if resend_from is None else min(cursor, max(acked, resend_from - 1))
                    last_progress = time.monotonic()
                sent = 0
                if connected:
                    if cursor > acked and time.monotonic() - last_progress > ACK_TIMEOUT:
                        log_event(log, "ack_timeout_resend", terminal=self.terminal, from_seq=acked + 1)
                        cursor, last_progress, resends = acked, time.monotonic(), resends + 1
                    room = acked + WINDOW - cursor
                    if room > 0:
                        if cursor == acked:
                            last_progress = time.monotonic()
                        for chunk in batches(outbox.pending(conn, cursor, min(BATCH, room))):
                            payload = chunk[0][2] if len(chunk) == 1 else encode_batch([p for _, _, p in chunk])
                            info = self.client.publish(chunk[0][1], payload, qos=1)
                            if info.rc != mqtt.MQTT_ERR_SUCCESS:
                                break
                            cursor, sent = chunk[-1][0], sent + len(chunk)
                backlog = outbox.backlog(conn)
                self._set_status(SyncStatus(connected, backlog, acked, last_ack_at, resends))
                if not sent:
                    self._wake.wait(POLL_INTERVAL)
        finally:
            conn.close()

    def _valid_ack(self, conn, acks: dict[int, str], acked: int) -> int:
        """The highest new ack whose digest matches our own message; others are refused and logged."""
        for acked_to in sorted(acks, reverse=True):
            if acked_to <= acked:
                break
            if outbox.ack_matches(conn, acked_to, acks[acked_to]):
                return acked_to
            self.refused_acks += 1
            log_event(
                log,
                "ack_refused",
                logging.WARNING,
                terminal=self.terminal,
                acked_to=acked_to,
                reason="the server's message with that sequence is not ours (a stale or foreign ack)",
            )
        return acked

    def _set_status(self, status: SyncStatus) -> None:
        with self._changed:
            self._status = status
            self._generation += 1
            self._changed.notify_all()

    # -- public API ----------------------------------------------------------------------------
    @property
    def status(self) -> SyncStatus:
        return self._status

    def wake(self) -> None:
        """Tell the worker a new message is in the outbox."""
        self._wake.set()

    def start(self) -> OutboxSender:
        start(self.client, self.broker)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=10)
        stop(self.client)

    def wait_synced(self, timeout: float) -> bool:
        """Wait until the server has acked every message in the outbox (True) or timeout (False)."""
        deadline = time.monotonic() + timeout
        self.wake()
        with self._changed:
            asked_at = self._generation
            while True:
                status = self._status
                # Only a status the worker made after this call counts: an older one may predate
                # messages just written to the outbox.
                if self._generation > asked_at and status.backlog == 0 and status.connected:
                    return True
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._changed.wait(remaining)

    def wait_change(self, generation: int, timeout: float) -> tuple[int, SyncStatus]:
        """Wait until the worker publishes a status newer than `generation` (or timeout); the latest one."""
        with self._changed:
            self._changed.wait_for(lambda: self._generation != generation, timeout)
            return self._generation, self._status

    def __enter__(self) -> OutboxSender:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
