"""What head office pushes to the till, applied to its journal: the retained hot-list, offers
(terminal/offers.py) and article catalogue (terminal/catalogue_store.py), and the balances of the cards this
till sold to, sent after each commit of its tickets.

The server publishes the whole list retained (`{"schema": 1, "published_at": ..., "cards":
[{"card", "status", "since"}]}`), so the last message is the truth: the till replaces its list.
Hot-list and offers come in head office's signed envelope (sync/signed.py): an unsigned, badly signed or
older message is refused and logged, and the till keeps what it had.
The listener has its own MQTT client and its own SQLite connection, used only on paho's thread.
"""

from __future__ import annotations

import logging
import sqlite3
import threading

import msgspec

from programme.ticket import store_of
from sync import topics
from sync.broker_url import BrokerUrl
from sync.codec import decode_balances
from sync.errors import CodecError
from sync.events import log_event
from sync.mqtt import make_client, start, stop, till_client_id
from sync.signed import SignatureError, Trust
from sync.till_db import open_till_db

from . import catalogue_store
from .cardstate import remember_balance, replace_hotlist
from .offers import apply_offers
from .errors import TillError
from .keys import hold, open_fresh

log = logging.getLogger("loyalty.till.downlink")


class HotCard(msgspec.Struct, frozen=True):
    card: str
    status: str = "blocked"
    since: str | None = None


class HotlistMessage(msgspec.Struct, frozen=True):
    schema: int
    cards: list[HotCard]
    published_at: str | None = None


_decoder = msgspec.json.Decoder(HotlistMessage)


def apply_hotlist(conn: sqlite3.Connection, data: bytes, trust: Trust) -> int:
    """Replace the till's hot-list with the signed message's; returns how many cards it lists.
    TillError when it is not signed by a key of `trust`, older than the list held, or not understood."""
    try:
        opened = open_fresh(conn, trust, "hotlist", data)
    except SignatureError as exc:
        raise TillError(f"{exc}: the till keeps its previous list") from None
    try:
        message = _decoder.decode(opened.payload)
    except msgspec.DecodeError as exc:
        raise TillError(f"hot-list message not understood ({exc}): the till keeps its previous list") from None
    if message.schema != 1:
        raise TillError(
            f"hot-list schema {message.schema} is not known to this till (1 expected): "
            "the till keeps its previous list; update the till software"
        )
    hold(conn, opened)  # committed with the list by replace_hotlist's transaction
    return replace_hotlist(conn, {c.card: c.status for c in message.cards})


class DownlinkListener:
    """Subscribes to the retained hot-list; `updated` is set each time a list has been applied."""

    def __init__(self, db_path: str, terminal: str, broker: BrokerUrl, trust: Trust | None = None):
        self.db_path = str(db_path)
        self.trust = trust if trust is not None else Trust.default()  # head office's key: checks what it pushes
        self.terminal = terminal
        self.broker = broker
        self.client = make_client(broker, till_client_id(terminal, "down"))
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.updated = threading.Event()
        self.balances_updated = threading.Event()
        self.offers_updated = threading.Event()  # set each time an offers message has been applied
        self.offers: int | None = None
        self.catalogue_updated = threading.Event()  # set each time a catalogue version has been kept
        self.store = store_of(terminal)
        self.subscribed = threading.Event()
        self.client.on_subscribe = lambda *args: self.subscribed.set()
        self.cards: int | None = None
        self._conn: sqlite3.Connection | None = None

    def _on_connect(self, client, userdata, flags, reason_code, properties):
        if not reason_code.is_failure:
            client.subscribe(
                [
                    (topics.HOTLIST, 1),
                    (topics.balances(self.terminal), 1),
                    (topics.OFFERS, 1),
                    (topics.catalogue("all"), 1),
                    (topics.catalogue(self.store), 1),
                ]
            )

    def _on_message(self, client, userdata, message):
        if self._conn is None:
            self._conn = open_till_db(self.db_path, any_thread=True)
        if message.topic == topics.balances(self.terminal):
            self._apply_balances(message.payload)
            return
        if message.topic == topics.OFFERS:
            self._apply_offers(message.payload)
            return
        if message.topic in (topics.catalogue("all"), topics.catalogue(self.store)):
            self._apply_catalogue(message.payload)
            return
        try:
            self.cards = apply_hotlist(self._conn, message.payload, self.trust)
        except TillError as exc:
            log_event(log, "hotlist_refused", logging.WARNING, terminal=self.terminal, reason=str(exc))
            return
        log_event(log, "hotlist_applied", terminal=self.terminal, cards=self.cards)
        self.updated.set()

    def _apply_balances(self, payload: bytes) -> None:
        try:
            message = decode_balances(payload)
        except CodecError as exc:
            log_event(log, "balances_refused", logging.WARNING, terminal=self.terminal, reason=str(exc))
            return
        for entry in message.balances:
            remember_balance(self._conn, entry.card, entry.points, message.as_of, as_of_seq=entry.seq)
        log_event(log, "balances_applied", terminal=self.terminal, cards=len(message.balances))
        self.balances_updated.set()

    def _apply_offers(self, payload: bytes) -> None:
        try:
            self.offers = apply_offers(self._conn, payload, self.trust)
        except TillError as exc:
            log_event(log, "offers_refused", logging.WARNING, terminal=self.terminal, reason=str(exc))
            return
        log_event(log, "offers_applied", terminal=self.terminal, offers=self.offers)
        self.offers_updated.set()

    def _apply_catalogue(self, payload: bytes) -> None:
        from programme.ticket import utc_now

        try:
            scope, version = catalogue_store.receive(self._conn, payload, utc_now().isoformat(), self.trust, self.store)
        except TillError as exc:
            log_event(log, "catalogue_refused", logging.WARNING, terminal=self.terminal, reason=str(exc))
            return
        log_event(log, "catalogue_applied", terminal=self.terminal, scope=scope, version=version)
        self.catalogue_updated.set()

    def start(self) -> DownlinkListener:
        start(self.client, self.broker)
        return self

    def stop(self) -> None:
        stop(self.client)
        if self._conn is not None:  # paho's thread has ended: closing here is safe
            self._conn.close()
            self._conn = None
