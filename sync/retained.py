"""Publishing one retained message (hot-list, offers) signed by head office, and waiting for the broker's ack."""

from __future__ import annotations

import threading

from .broker_url import BrokerUrl
from .errors import ConnectError
from .mqtt import make_client
from .signed import Signer

PUBLISH_TIMEOUT = 5.0  # seconds to connect and have the broker ack the retained message


def publish_retained(
    broker: BrokerUrl,
    topic: str,
    payload: bytes,
    client_id: str,
    what: str,
    then: str = "check the broker and push again",
) -> None:
    """Publish `payload` retained with QoS 1; raise ConnectError naming `what` was not pushed, and `then`."""
    client = make_client(broker, client_id)
    connected = threading.Event()
    client.on_connect = lambda c, u, f, rc, p: connected.set() if not rc.is_failure else None
    try:
        client.connect(broker.host, broker.port)
    except OSError as exc:
        raise ConnectError(f"{what} not pushed: broker {broker} unreachable ({exc}); {then}") from None
    client.loop_start()
    try:
        if not connected.wait(PUBLISH_TIMEOUT):
            raise ConnectError(f"{what} not pushed: broker {broker} did not accept the connection")
        info = client.publish(topic, payload, qos=1, retain=True)
        info.wait_for_publish(PUBLISH_TIMEOUT)
        if not info.is_published():
            raise ConnectError(f"{what} not pushed: broker {broker} did not ack it within {PUBLISH_TIMEOUT} s")
    finally:
        client.disconnect()
        client.loop_stop()


def publish_signed(
    broker: BrokerUrl,
    topic: str,
    kind: str,
    payload: bytes,
    client_id: str,
    what: str,
    signer: Signer | None = None,
    then: str = "check the broker and push again",
) -> bytes:
    """Sign `payload` as a `kind` message with head office's key (`signer`, else the configured one) and
    publish the envelope retained; returns the envelope. SignatureError when there is no key."""
    envelope = (signer or Signer.load()).sign(kind, payload)
    publish_retained(broker, topic, envelope, client_id, what, then)
    return envelope
