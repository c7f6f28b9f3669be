"""Sends the till's journal events (voids, cancellations, reprints, training, archivings) to head office.

The `event_outbox` table of the journal is the queue, as the tickets' outbox is theirs. Head office acks
each event on the till's `acks` topic (flow "events") once it has committed it; the ack names the event's
message digest and only the message with that digest is forgotten. Whatever is not acked is sent again on
every (re)connect and every ACK_TIMEOUT seconds: head office keeps an event once by (till, chain, number).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time

import msgspec
import paho.mqtt.client as mqtt

from sync import topics
from sync.broker_url import BrokerUrl
from sync.codec import decode_ack
from sync.errors import CodecError
from sync.events import log_event
from sync.mqtt import make_client

log = logging.getLogger("loyalty.events")

ACK_TIMEOUT = 10.0  # seconds before an unacked event is sent again
POLL_INTERVAL = 0.2  # seconds between looks at the event outbox


def backlog(conn: sqlite3.Connection) -> int:
    return conn.execute("SELECT count(*) FROM event_outbox").fetchone()[0]


def acknowledge(conn: sqlite3.Connection, digest: str) -> int:
    """Forget the event message with that digest (head office committed it); how many were removed."""
    with conn:
        return conn.execute("DELETE FROM event_outbox WHERE digest = ?", (digest,)).rowcount


class EventSender:
    """start()/stop() or a context manager; wait_synced() waits until head office acked every event."""

    def __init__(self, db_path: str, terminal: str, broker: BrokerUrl):
        self.db_path = str(db_path)
        self.terminal = terminal
        self.client = make_client(broker, f"till-{terminal}-events", clean_session=False)
        self.broker = broker
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self._acks: list[str] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._synced = threading.Event()
        self._sent: dict[int, float] = {}  # outbox row -> when it was last published
        self._thread = threading.Thread(target=self._run, name=f"events-{terminal}", daemon=True)

    def _on_connect(self, client, userdata, flags, reason_code, properties):
        if reason_code.is_failure:
            log_event(log, "connect_refused", logging.WARNING, terminal=self.terminal, reason=str(reason_code))
            return
        client.subscribe(topics.acks(self.terminal), qos=1)
        with self._lock:
            self._sent.clear()  # send everything unacked again
        self._wake.set()

    def _on_message(self, client, userdata, message: mqtt.MQTTMessage):
        try:
            ack = decode_ack(message.payload)
        except CodecError as exc:
            log_event(log, "bad_down_message", logging.WARNING, topic=message.topic, reason=str(exc))
            return
        if ack.flow is msgspec.UNSET:
            return  # a ticket ack: the OutboxSender's
        with self._lock:
            self._acks.append(ack.digest)
        self._wake.set()

    def _run(self) -> None:
        conn = sqlite3.connect(self.db_path, timeout=30)
        try:
            while not self._stop.is_set():
                self._wake.clear()
                with self._lock:
                    acks, self._acks = self._acks, []
                for digest in acks:
                    acknowledge(conn, digest)
                now = time.monotonic()
                rows = conn.execute("SELECT n, topic, payload FROM event_outbox ORDER BY n").fetchall()
                if self.client.is_connected():
                    for n, topic, payload in rows:
                        with self._lock:
                            due = now - self._sent.get(n, -1e9) >= ACK_TIMEOUT
                        if due and self.client.publish(topic, payload, qos=1).rc == mqtt.MQTT_ERR_SUCCESS:
                            with self._lock:
                                self._sent[n] = now
                if rows:
                    self._synced.clear()
                else:
                    self._synced.set()
                self._wake.wait(POLL_INTERVAL)
        finally:
            conn.close()

    def wake(self) -> None:
        self._wake.set()

    def wait_synced(self, timeout: float) -> bool:
        """True once the event outbox is empty (every event acked), False after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._synced.clear()
            self._wake.set()
            if self._synced.wait(max(0.0, deadline - time.monotonic())):
                return True
        return False

    def start(self) -> EventSender:
        self.client.connect_async(self.broker.host, self.broker.port)
        self.client.loop_start()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=10)
        self.client.disconnect()
        self.client.loop_stop()

    def __enter__(self) -> EventSender:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
