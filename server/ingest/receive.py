"""Ticket ingest: MQTT in, validate, commit a batch, then ack each till cumulatively.

Messages arrive on paho's network thread and wait in memory only until their batch commits;
nothing is acked before the commit, so a crash loses nothing the tills will not send again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from datetime import datetime, timezone

import paho.mqtt.client as mqtt

from sync import topics
from sync.broker_url import BrokerUrl
from sync.codec import SCHEMA_VERSION, Ack, Balances, CardBalance, Command, decode_ticket, encode, is_batch, split_batch
from sync.errors import CodecError
from sync.events import log_event
from sync.mqtt import make_client

from server.ingest.store import BatchResult, DeadLetter, Store
from server.ingest.store_api import open_store
from server.storage.connection import DATA_ERRORS, WRITE_ERRORS

log = logging.getLogger("loyalty.ingest")

BATCH_MAX = 500  # messages committed together at most
BATCH_WAIT = 0.05  # seconds to wait for a batch to fill once a message is there
RESEND_REQUEST_INTERVAL = 2.0  # seconds between two resend requests to the same till
STORE_RETRY_DELAY = 0.5  # seconds before writing a failed batch again (doubles up to the max)
STORE_RETRY_MAX_DELAY = 30.0
REANNOUNCE = object()  # in the inbox: re-announce acks to every known till (after a reconnect)


def classify_one(topic: str, payload: bytes) -> tuple:
    """A raw message as (topic, ticket, payload) when valid, else as a DeadLetter with its reason."""
    terminal = topics.terminal_of_up_topic(topic)
    if terminal is None:
        return DeadLetter(topic, f"unexpected topic {topic!r}: tickets go to {topics.tickets('S000-T00')}", payload)
    try:
        return (topic, decode_ticket(payload, terminal), payload)
    except CodecError as exc:
        same_till = exc.terminal == terminal
        return DeadLetter(topic, exc.reason, payload, terminal if same_till else None, exc.seq if same_till else None)


def classify_message(topic: str, payload: bytes) -> list:
    """classify_one for each ticket message an MQTT message carries: one, or a till's batch."""
    if not is_batch(payload):
        return [classify_one(topic, payload)]
    try:
        parts = split_batch(payload)
    except CodecError as exc:
        return [DeadLetter(topic, exc.reason, payload)]
    return [classify_one(topic, part) for part in parts]


def split(items: list) -> tuple[list, list[DeadLetter]]:
    """classify_one's results as valid tickets and dead letters."""
    good, dead = [], []
    for item in items:
        (dead if isinstance(item, DeadLetter) else good).append(item)
    return good, dead


def classify(items: list[tuple[str, bytes]]) -> tuple[list, list[DeadLetter]]:
    """Split raw messages into valid tickets and dead letters with their reasons."""
    return split([item for topic, payload in items for item in classify_message(topic, payload)])


class Ingestor:
    """Subscribe to every till's tickets and store them; start()/stop() or a context manager."""

    def __init__(
        self,
        store_path: str,
        broker: BrokerUrl,
        client_id: str = "loyalty-server-ingest",
        shared_group: str | None = None,
        require_registered: bool = True,
        on_death=None,
    ):
        """`shared_group`: several workers share the tickets through `$share/GROUP/...` (one client id each).

        Per-till order is then not guaranteed; acks stay right because each is computed from the
        committed rows, and a till takes the highest ack it has seen.
        `require_registered`: quarantine the tickets of tills with no registered key (only the demo says no).
        `on_death(exc)`: called when the ingest thread stops on an error it cannot get past (the database
        cannot be opened...): `loyalty server` then exits non-zero, so a supervisor restarts it; it never idles.
        """
        self.store_path = str(store_path)
        self.require_registered = require_registered
        self.on_death = on_death
        self.error: BaseException | None = None
        self.broker = broker
        self.subscription = (
            f"$share/{shared_group}/{topics.TICKETS_SUBSCRIPTION}" if shared_group else topics.TICKETS_SUBSCRIPTION
        )
        self.client = make_client(broker, client_id, clean_session=False)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        # classify_one's results, or REANNOUNCE; appended by paho's thread, taken by the ingest thread
        self._inbox: deque = deque()
        self._arrived = threading.Event()
        self._stop = threading.Event()
        self._connected = threading.Event()
        self._last_resend: dict[str, float] = {}
        self._thread = threading.Thread(target=self._run, name="ingest", daemon=True)
        self.totals = BatchResult()
        self.store: Store | None = None
        self.store_failures = 0

    def _on_connect(self, client, userdata, flags, reason_code, properties):
        if reason_code.is_failure:
            log_event(log, "connect_refused", logging.WARNING, reason=str(reason_code))
            return
        client.subscribe(self.subscription, qos=1)
        self._connected.set()
        log_event(log, "connected", broker=str(self.broker))
        self._put(REANNOUNCE)  # ask the worker to re-announce acks to every known till

    def _on_message(self, client, userdata, message: mqtt.MQTTMessage):
        # Decoded and validated here, on paho's thread, while the ingest thread waits on SQLite
        # (which releases the GIL): the two overlap. Nothing is acked before its batch commits.
        # The checks that need no database are done here too (server/ingest/precheck.py), once the store is open.
        store = self.store
        for item in classify_message(message.topic, message.payload):
            if store is not None and not isinstance(item, DeadLetter):
                item = (*item, store.precheck(item[1]))
            self._put(item)

    def _put(self, item) -> None:
        inbox = self._inbox
        inbox.append(item)
        if len(inbox) == 1 or len(inbox) >= BATCH_MAX:  # wake the ingest thread: a first message, a full batch
            self._arrived.set()

    def _take_batch(self) -> list:
        """Up to BATCH_MAX items: waits 0.2 s for a first one, then BATCH_WAIT for the batch to fill.

        The event is cleared before the inbox is looked at, so an item put after the look sets it again.
        """
        inbox = self._inbox
        self._arrived.clear()
        if not inbox:
            self._arrived.wait(0.2)
        if inbox and len(inbox) < BATCH_MAX:
            self._arrived.clear()
            if len(inbox) < BATCH_MAX:
                self._arrived.wait(BATCH_WAIT)
        return [inbox.popleft() for _ in range(min(BATCH_MAX, len(inbox)))]

    def _run(self) -> None:
        try:
            self._serve()
        except BaseException as exc:  # noqa: BLE001 - reported, then the process stops: never an idle server
            self.error = exc
            log_event(log, "ingest_died", logging.CRITICAL, error=f"{type(exc).__name__}: {exc}")
            if self.on_death is not None:
                self.on_death(exc)

    def _serve(self) -> None:
        store = self.store = open_store(self.store_path, self.require_registered)
        try:
            while not self._stop.is_set():
                batch = self._take_batch()
                if not batch:
                    continue
                messages = [m for m in batch if m is not REANNOUNCE]
                if len(messages) < len(batch):
                    for terminal, seq in store.acks().items():
                        self._publish_ack(terminal, seq, store.ack_digest(terminal, seq))
                if messages:
                    self._process_until_stored(store, messages)
        finally:
            store.close()

    def _process_until_stored(self, store: Store, messages: list) -> None:
        """A failed write (disk full, I/O error) rolls back whole and is tried again; nothing is acked meanwhile."""
        delay = STORE_RETRY_DELAY
        while not self._stop.is_set():
            try:
                try:
                    self.process(store, messages)
                except DATA_ERRORS as exc:  # about a message, not the database: find it, set it aside
                    self._isolate(store, messages, exc)
                except WRITE_ERRORS:
                    raise
                except Exception as exc:  # noqa: BLE001 - the same: no message may stop ingest for the others
                    self._isolate(store, messages, exc)
                return
            except WRITE_ERRORS as exc:
                self.store_failures += 1
                log_event(log, "store_failed", logging.ERROR, messages=len(messages), error=str(exc), retry_in=delay)
                self._stop.wait(delay)
                delay = min(delay * 2, STORE_RETRY_MAX_DELAY)

    def _isolate(self, store: Store, messages: list, error: BaseException) -> None:
        """A batch failed on something in it: store its messages one by one, and dead-letter the one(s)
        that fail, with the error. A write error (the database, not a message) goes up to be retried."""
        log_event(log, "batch_failed", logging.ERROR, messages=len(messages), error=f"{type(error).__name__}: {error}")
        for message in messages:
            try:
                self.process(store, [message])
            except WRITE_ERRORS as exc:
                if not isinstance(exc, DATA_ERRORS):
                    raise
                self._dead_letter(store, message, exc)
            except Exception as exc:  # noqa: BLE001 - see above
                self._dead_letter(store, message, exc)

    def _dead_letter(self, store: Store, message, error: BaseException) -> None:
        """`message` could not be stored: keep it as a dead letter with why (its sequence counts, so its
        till's acks go on). If even that fails, keep it without its ids, which may be what failed."""
        if isinstance(message, DeadLetter):
            topic, payload, terminal, seq = message.topic, message.payload, message.terminal, message.seq
        else:
            topic, ticket, payload = message[:3]
            terminal, seq = ticket.terminal, ticket.seq
        reason = f"ingest failed on this message: {type(error).__name__}: {error}"
        try:
            self.process(store, [DeadLetter(topic, reason, payload, terminal, seq)])
        except WRITE_ERRORS as exc:
            if not isinstance(exc, DATA_ERRORS):
                raise
            self.process(store, [DeadLetter(topic, reason, payload)])

    def process(self, store: Store, messages: list) -> BatchResult:
        """Store a batch of classify_one's results; then ack, ask for gaps and push balances."""
        good, dead = split(messages)
        now = datetime.now(timezone.utc).isoformat()
        result = store.ingest(good, dead, now)
        for letter in dead:
            log_event(log, "dead_letter", logging.WARNING, topic=letter.topic, reason=letter.reason)
        for terminal, acked_to in result.acks.items():
            self._publish_ack(terminal, acked_to, store.ack_digest(terminal, acked_to))
        for terminal, from_seq in result.gaps.items():
            self._request_resend(terminal, from_seq)
        self._publish_balances(store, good)
        self.totals.stored += result.stored
        self.totals.duplicates += result.duplicates
        self.totals.dead_letters += result.dead_letters
        self.totals.quarantined += result.quarantined
        log_event(
            log,
            "batch",
            messages=len(messages),
            stored=result.stored,
            duplicates=result.duplicates,
            dead_letters=result.dead_letters,
            quarantined=result.quarantined,
        )
        return result

    def _publish_ack(self, terminal: str, acked_to: int, digest: str | None) -> None:
        if acked_to < 1 or digest is None:
            return  # nothing received from this till yet, or nothing to name
        ack = Ack(
            schema=SCHEMA_VERSION, terminal=terminal, acked_to=acked_to, digest=digest, at=datetime.now(timezone.utc)
        )
        self.client.publish(topics.acks(terminal), encode(ack), qos=1)

    def _publish_balances(self, store, good: list) -> None:
        """Tell each till the balances of the cards it just sold to, so it shows them offline too."""
        by_till: dict[str, set[str]] = {}
        for item in good:
            ticket = item[1]
            if ticket.card:
                by_till.setdefault(ticket.terminal, set()).add(ticket.card)
        if not by_till:
            return
        now = datetime.now(timezone.utc)
        for terminal, cards in by_till.items():
            known, seq = store.balances_for_till(terminal, sorted(cards))
            message = Balances(
                schema=SCHEMA_VERSION,
                terminal=terminal,
                as_of=now,
                balances=[CardBalance(card=card, points=known.get(card, 0), seq=seq) for card in sorted(cards)],
            )
            self.client.publish(topics.balances(terminal), encode(message), qos=1)

    def _request_resend(self, terminal: str, from_seq: int) -> None:
        now = time.monotonic()
        if now - self._last_resend.get(terminal, -1e9) < RESEND_REQUEST_INTERVAL:
            return
        self._last_resend[terminal] = now
        log_event(log, "gap", terminal=terminal, from_seq=from_seq)
        self.client.publish(
            topics.commands(terminal),
            encode(Command(schema=SCHEMA_VERSION, command="resend", from_seq=from_seq)),
            qos=1,
        )

    def start(self) -> Ingestor:
        self._thread.start()
        self.client.connect_async(self.broker.host, self.broker.port)
        self.client.loop_start()
        return self

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self.client.disconnect()
        self.client.loop_stop()

    def __enter__(self) -> Ingestor:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
