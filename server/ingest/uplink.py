"""What tills send head office besides tickets: status reports (kept per till) and requests (answered);
and the retained rules message, whose versions the server records so that it can recompute every
ticket (a version published without `--db` would otherwise flag each of its tickets).

A small subscriber beside ingest, with its own MQTT client and database connection: it never
holds up tickets. Requests are answered on `down/{terminal}/replies` with the request's id; a
till waits about half a second for its answer, so a request that waited for a server restart is
useless: the session is clean. A status or request that cannot be read goes to the dead letters.
The rules message is learnt only when head office signed it (sync/signed.py) and it is not older than
the last one learnt: anything else goes to the dead letters with the reason.
"""

from __future__ import annotations

import logging
import queue
import threading
from datetime import datetime, timezone

import paho.mqtt.client as mqtt

from sync import topics
from sync.broker_url import BrokerUrl
from sync.codec import encode
from sync.errors import CodecError
from sync.events import log_event
from sync.mqtt import make_client
from sync.requests import send_at_once
from sync.signed import SignatureError, Trust, refuse_older
from sync.status import decode_status

from server.ingest import till_status
from server.ingest.request_limits import RequestLimits
from server.ingest.store_api import open_store

log = logging.getLogger("loyalty.uplink")


class Uplink:
    """Subscribe to every till's status and requests; start()/stop() or a context manager."""

    def __init__(
        self, store_path: str, broker: BrokerUrl, client_id: str = "loyalty-server-uplink", trust: Trust | None = None
    ):
        self.store_path = str(store_path)
        self.trust = trust if trust is not None else Trust.default()  # head office's key: checks the rules
        self._rules_issued_at: datetime | None = None  # of the last rules message learnt
        self.broker = broker
        self.client = make_client(broker, client_id)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *args: self.subscribed.set()
        self.subscribed = threading.Event()
        self.statuses = 0
        self.rules_versions = 0  # rules versions learnt from the retained rules message
        self.answered = 0
        self.refused = 0  # requests refused for a till over its allowance (server.request_limits)
        self.limits = RequestLimits()
        self.dead_letters = 0
        self._handled = threading.Condition()
        self._inbox: queue.Queue[tuple[str, bytes] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="uplink", daemon=True)

    def _on_connect(self, client, userdata, flags, reason_code, properties):
        if reason_code.is_failure:
            log_event(log, "connect_refused", logging.WARNING, reason=str(reason_code))
            return
        send_at_once(client)  # replies leave at once
        client.subscribe([(topics.STATUS_SUBSCRIPTION, 1), (topics.REQUESTS_SUBSCRIPTION, 1), (topics.RULES, 1)])
        log_event(log, "connected", broker=str(self.broker))

    def _on_message(self, client, userdata, message: mqtt.MQTTMessage):
        self._inbox.put((message.topic, message.payload))

    def _run(self) -> None:
        store = open_store(self.store_path)
        conn = store.conn
        try:
            while (item := self._inbox.get()) is not None:
                topic, payload = item
                try:
                    self.handle(conn, topic, payload)
                except Exception as exc:  # noqa: BLE001 - one bad message never stops the subscriber
                    log_event(log, "uplink_failed", logging.ERROR, topic=topic, error=repr(exc))
                with self._handled:
                    self._handled.notify_all()
        finally:
            store.close()

    def handle(self, conn, topic: str, payload: bytes) -> None:
        now = datetime.now(timezone.utc).isoformat()
        if terminal := topics.terminal_of_up_topic(topic, "status"):
            try:
                status = decode_status(payload, terminal)
            except CodecError as exc:
                self._dead_letter(conn, topic, terminal, exc.reason, payload, now)
                return
            till_status.record_status(conn, status, now)
            self.statuses += 1
            log_event(log, "status", terminal=terminal, backlog=status.backlog)
        elif terminal := topics.terminal_of_up_topic(topic, "requests"):
            self._answer(conn, topic, terminal, payload, now)
        elif topic == topics.RULES:
            self._learn_rules(conn, topic, payload, now)
        else:
            self._dead_letter(conn, topic, None, f"unexpected topic {topic!r}", payload, now)

    def _answer(self, conn, topic: str, terminal: str, payload: bytes, now: str) -> None:
        from sync.requests import Reply, decode_request, request_kind

        from server.ingest.answers import answer

        try:
            request = decode_request(payload)
        except CodecError as exc:
            self._dead_letter(conn, topic, terminal, exc.reason, payload, now)
            return
        refusal = self.limits.refusal(terminal, request)
        if refusal is not None:  # a till over its allowance gets no data, and head office hears of it
            reply = Reply(schema=1, id=request.id, kind=request_kind(request), found=False, message=refusal)
            self.refused += 1
            log_event(log, "request_refused", logging.WARNING, terminal=terminal, kind=reply.kind, reason=refusal)
        else:
            reply = answer(conn, terminal, request)
        self.client.publish(topics.replies(terminal), encode(reply), qos=1)
        self.answered += 1
        log_event(log, "answered", terminal=terminal, kind=reply.kind, id=reply.id, found=reply.found)

    def _learn_rules(self, conn, topic: str, payload: bytes, now: str) -> None:
        """Record every version of the retained rules message the server does not know yet."""
        from programme.errors import ProgrammeError
        from sync.rules_message import decode_bundle

        from server.desk.rules_versions import record_version

        try:
            opened = self.trust.open("rules", payload)
            refuse_older("rules", opened, self._rules_issued_at)
        except SignatureError as exc:
            self._dead_letter(conn, topic, None, str(exc), payload, now)
            return
        try:
            bundle = decode_bundle(opened.payload)
        except CodecError as exc:
            self._dead_letter(conn, topic, None, exc.reason, payload, now)
            return
        self._rules_issued_at = opened.issued_at
        known = dict(conn.execute("SELECT version, toml FROM rules_versions").fetchall())
        for published in bundle.versions:
            if known.get(published.version) == published.toml:
                continue
            try:
                with conn:
                    record_version(conn, published.toml, now)
            except ProgrammeError as exc:
                self._dead_letter(
                    conn, topic, None, f"rules version {published.version} not recorded: {exc}", payload, now
                )
                continue
            self.rules_versions += 1
            log_event(log, "rules_version_learnt", version=published.version, effective_from=published.effective_from)

    def _dead_letter(self, conn, topic: str, terminal: str | None, reason: str, payload: bytes, now: str) -> None:
        with conn:
            conn.execute(
                "INSERT INTO dead_letters (received_at, topic, terminal, seq, reason, payload) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (now, topic, terminal, None, reason, payload),
            )
        self.dead_letters += 1
        log_event(log, "dead_letter", logging.WARNING, topic=topic, reason=reason)

    def start(self) -> Uplink:
        self._thread.start()
        self.client.connect_async(self.broker.host, self.broker.port)
        self.client.loop_start()
        return self

    def wait_subscribed(self, timeout: float) -> bool:
        return self.subscribed.wait(timeout)

    def wait_until(self, predicate, timeout: float) -> bool:
        """Wait until `predicate(self)` holds after a message was handled (counts: statuses, answered...)."""
        with self._handled:
            return self._handled.wait_for(lambda: predicate(self), timeout)

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
        self._inbox.put(None)
        self._thread.join(timeout=10)

    def __enter__(self) -> Uplink:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
