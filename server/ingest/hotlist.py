"""The hot-list pushed to every till: blocked, lost and stolen cards, retained on the broker.

Retained so a till that connects later gets the latest list at once; each publish carries the whole
list, so the last message is the truth and nothing needs merging at the till.
"""

from __future__ import annotations

import logging

import msgspec

from sync import topics
from sync.broker_url import BrokerUrl
from sync.events import log_event
from sync.retained import publish_signed
from sync.signed import Signer

from server.desk.cards import hotlist
from server.storage.desk_db import utc_now
from server.storage.connection import Connection

log = logging.getLogger("loyalty.hotlist")

SCHEMA_VERSION = 1


def build_payload(conn: Connection) -> bytes:
    """`{"schema": 1, "published_at": ..., "cards": [{"card", "status", "since"}, ...]}`"""
    return msgspec.json.encode({"schema": SCHEMA_VERSION, "published_at": utc_now(), "cards": hotlist(conn)})


def publish(
    conn: Connection, broker: BrokerUrl, client_id: str = "loyalty-server-hotlist", signer: Signer | None = None
) -> int:
    """Publish the whole hot-list, signed by head office (`signer`, else the configured key), retained with
    QoS 1 and wait for the broker's ack; returns cards listed."""
    payload = build_payload(conn)
    publish_signed(
        broker,
        topics.HOTLIST,
        "hotlist",
        payload,
        client_id,
        "hot-list",
        signer,
        then="it will be pushed with the next card change, or check the broker",
    )
    count = len(msgspec.json.decode(payload)["cards"])
    log_event(log, "hotlist_published", broker=str(broker), cards=count)
    return count
