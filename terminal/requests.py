"""The till asks head office: a card's balance when it knows none (or an old one), a ticket sold at
another till for a return, a reservation of points before it spends them. One MQTT client of its own;
`ask` waits at most ASK_TIMEOUT and returns None when no answer came (offline, or the server down): the
caller goes on with what it knows.
"""

from __future__ import annotations

import logging
import re
import secrets
import sqlite3
import threading
import uuid
from datetime import datetime, timedelta, timezone

from sync import topics
from sync.broker_url import BrokerUrl
from sync.codec import encode
from sync.errors import CodecError
from sync.events import log_event
from sync.mqtt import make_client, start, stop, till_client_id
from sync.requests import (
    BalanceRequest,
    ChequeRequest,
    PhoneRequest,
    ReleaseRequest,
    Reply,
    ReserveRequest,
    TicketRequest,
    decode_reply,
    send_at_once,
)

from .cardstate import remember_balance

log = logging.getLogger("loyalty.till.requests")

ASK_TIMEOUT = 0.5  # seconds the cashier may wait for head office before the till goes on without it
BALANCE_MAX_AGE = timedelta(minutes=5)  # a server balance older than this is asked again when online
KINDS = {
    "balance": BalanceRequest,
    "ticket": TicketRequest,
    "reserve": ReserveRequest,
    "release": ReleaseRequest,
    "cheque": ChequeRequest,
    "phone": PhoneRequest,
}


class Requester:
    """start()/stop(); `ask()` from any thread (the screen's workers), never from the UI thread."""

    def __init__(self, terminal: str, broker: BrokerUrl):
        self.terminal = terminal
        self.broker = broker
        # A client id of its own: the screen and a `loyalty till return --broker` may ask at once, and a
        # shared id would have the broker throw one off for the other (each matches its replies by id).
        self.client = make_client(broker, till_client_id(terminal, f"ask-{secrets.token_hex(3)}"))
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = lambda *args: self.ready.clear()
        self.client.on_subscribe = lambda *args: self.ready.set()
        self.client.on_message = self._on_message
        self.ready = threading.Event()  # subscribed to our replies: asking makes sense
        self._lock = threading.Lock()
        self._waiting: dict[str, list] = {}  # request id -> [event, reply]

    def _on_connect(self, client, userdata, flags, reason_code, properties):
        if not reason_code.is_failure:
            send_at_once(client)
            client.subscribe(topics.replies(self.terminal), qos=1)

    def _on_message(self, client, userdata, message):
        try:
            reply = decode_reply(message.payload)
        except CodecError as exc:
            log_event(log, "reply_refused", logging.WARNING, terminal=self.terminal, reason=str(exc))
            return
        with self._lock:
            slot = self._waiting.get(reply.id)
        if slot is not None:  # else: an answer that came too late, or not ours
            slot[1] = reply
            slot[0].set()

    def ask(self, kind: str, timeout: float | None = None, **fields) -> Reply | None:
        """Ask head office (`kind` balance with card=, ticket with ticket_id=, reserve with card=, points=,
        after_seq=); None without an answer in time."""
        timeout = ASK_TIMEOUT if timeout is None else timeout
        if not self.ready.is_set():
            return None
        request_id = uuid.uuid4().hex
        request = KINDS[kind](schema=1, id=request_id, codes=True, **fields)  # show its answers in our language
        slot = [threading.Event(), None]
        with self._lock:
            self._waiting[request_id] = slot
        try:
            self.client.publish(topics.requests(self.terminal), encode(request), qos=1)
            slot[0].wait(timeout)
        finally:
            with self._lock:
                self._waiting.pop(request_id, None)
        if slot[1] is None:
            log_event(log, "ask_timeout", logging.WARNING, terminal=self.terminal, kind=kind, timeout=timeout)
        return slot[1]

    def tell(self, kind: str, **fields) -> bool:
        """Send a request whose answer does not matter (release); False when not connected (head office lets the
        reservation lapse on its own)."""
        if not self.ready.is_set():
            return False
        request = KINDS[kind](schema=1, id=uuid.uuid4().hex, **fields)
        self.client.publish(topics.requests(self.terminal), encode(request), qos=1)
        return True

    def start(self) -> Requester:
        start(self.client, self.broker)
        return self

    def stop(self) -> None:
        stop(self.client)


def looks_like_phone(text: str) -> bool:
    """What the cashier typed at F2 is a phone number (06 12 34 56 78, +33 6 12 34 56 78), not a card number."""
    cleaned = re.sub(r"[\s.\-]", "", text)
    digits = cleaned.lstrip("+")
    if not digits.isdigit():
        return False
    return cleaned.startswith("+") and 9 <= len(digits) <= 15 or len(digits) == 10 and digits.startswith("0")


def balance_is_stale(conn: sqlite3.Connection, card: str, now: datetime | None = None) -> bool:
    """No server balance for the card, or one older than BALANCE_MAX_AGE: worth asking when online."""
    row = conn.execute("SELECT as_of FROM known_balances WHERE card = ?", (card,)).fetchone()
    if row is None:
        return True
    now = now or datetime.now(timezone.utc)
    return now - datetime.fromisoformat(row[0]) > BALANCE_MAX_AGE


def fetch_balance(conn: sqlite3.Connection, requester: Requester, card: str, timeout: float | None = None) -> bool:
    """Ask head office for the card's balance and keep it like a pushed one; False without an answer."""
    reply = requester.ask("balance", timeout, card=card)
    if reply is not None and reply.balance is None:  # refused (too many requests or cards from this till)
        log_event(log, "balance_refused", logging.WARNING, terminal=requester.terminal, reason=reply.message)
    if reply is None or reply.balance is None:
        return False
    info = reply.balance
    remember_balance(
        conn, card, info.points, info.as_of, first_name=info.first_name, as_of_seq=info.seq, tier=info.tier
    )
    return True
