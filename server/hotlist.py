"""The hot-list pushed to every till: blocked, lost and stolen cards, retained on the broker.

Retained so a till that connects later gets the latest list at once; each publish carries the whole
list, so the last message is the truth and nothing needs merging at the till.
"""
from __future__ import annotations

import logging
import sqlite3
import threading

import msgspec

from sync import topics
from sync.broker_url import BrokerUrl
from sync.errors import ConnectError
from sync.events import log_event
from sync.mqtt import make_client

from .cards import hotlist
from .deskdb import utc_now

log = logging.getLogger("loyalty.hotlist")

SCHEMA_VERSION = 1
PUBLISH_TIMEOUT = 5.0  # seconds to connect and have the broker ack the retained message


def build_payload(conn: sqlite3.Connection) -> bytes:
    """`{"schema": 1, "published_at": ..., "cards": [{"card", "status", "since"}, ...]}`"""
    return msgspec.json.encode({"schema": SCHEMA_VERSION, "published_at": utc_now(), "cards": hotlist(conn)})


def publish(conn: sqlite3.Connection, broker: BrokerUrl, client_id: str = "loyalty-server-hotlist") -> int:
    """Publish the whole hot-list retained with QoS 1 and wait for the broker's ack; returns cards listed."""
    payload = build_payload(conn)
    client = make_client(broker, client_id)
    connected = threading.Event()
    client.on_connect = lambda c, u, f, rc, p: connected.set() if not rc.is_failure else None
    try:
        client.connect(broker.host, broker.port)
    except OSError as exc:
        raise ConnectError(f"hot-list not pushed: broker {broker} unreachable ({exc}); "
                           "it will be pushed with the next card change, or check the broker") from None
    client.loop_start()
    try:
        if not connected.wait(PUBLISH_TIMEOUT):
            raise ConnectError(f"hot-list not pushed: broker {broker} did not accept the connection")
        info = client.publish(topics.HOTLIST, payload, qos=1, retain=True)
        info.wait_for_publish(PUBLISH_TIMEOUT)
        if not info.is_published():
            raise ConnectError(f"hot-list not pushed: broker {broker} did not ack it within {PUBLISH_TIMEOUT} s")
    finally:
        client.disconnect()
        client.loop_stop()
    count = len(msgspec.json.decode(payload)["cards"])
    log_event(log, "hotlist_published", broker=str(broker), cards=count)
    return count
