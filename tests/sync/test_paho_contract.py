"""sync.mqtt.Client reads through a BufferedSocket by overriding paho internals (`_create_socket`,
`_packet_queue`, `_sockpairW`, `_thread`, `_sock`, `_transport`). These tests fail when an upgrade of paho
moves any of them, before a till or the server finds out in a store: then measure `python -m bench paho`
again and either adapt the override or drop it (sync/mqtt.py's Client becomes paho's own)."""

import inspect
import threading

import paho.mqtt
import paho.mqtt.client as mqtt
import pytest

from sync import mqtt as ours
from sync.broker_url import parse_broker_url


def test_paho_is_the_major_version_the_override_was_written_for():
    major = int(paho.mqtt.__version__.split(".")[0])
    assert major == 2, (
        f"paho-mqtt {paho.mqtt.__version__}: sync/mqtt.py's Client overrides paho 2's private "
        "_create_socket, _packet_queue and loop_read; check them against this version"
    )


@pytest.mark.parametrize(
    "method, parameters",
    [
        ("_create_socket", ["self"]),
        ("_packet_queue", ["self", "command", "packet", "mid", "qos", "info"]),
        ("loop_read", ["self", "max_packets"]),
    ],
)
def test_the_paho_methods_the_override_replaces_are_still_there(method, parameters):
    found = getattr(mqtt.Client, method, None)
    assert found is not None, f"paho's Client has no {method} any more: sync/mqtt.py's override must change"
    assert list(inspect.signature(found).parameters) == parameters


def test_a_connected_client_reads_through_the_buffer_and_loses_nothing(mosquitto):
    """500 QoS 1 messages in a burst, received by our client: its socket is a BufferedSocket and every
    message arrives once, in order."""
    url = parse_broker_url(mosquitto.url)
    received, subscribed, done = [], threading.Event(), threading.Event()
    reader = ours.make_client(url, "contract-reader")
    reader.on_connect = lambda c, *a: c.subscribe("contract/#", qos=1)
    reader.on_subscribe = lambda *a: subscribed.set()

    def on_message(client, userdata, message):
        received.append(int(message.payload))
        if len(received) == 500:
            done.set()

    reader.on_message = on_message
    ours.start(reader, url)
    writer = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="contract-writer")
    try:
        assert subscribed.wait(10), "the reader could not subscribe"
        for attr in ("_sock", "_sockpairW", "_thread", "_transport"):
            assert hasattr(reader, attr), f"paho's Client has no {attr} any more: sync/mqtt.py's override must change"
        assert isinstance(reader._sock, ours.BufferedSocket)
        writer.connect(url.host, url.port)
        writer.loop_start()
        infos = [writer.publish(f"contract/{n % 7}", str(n).encode(), qos=1) for n in range(500)]
        for info in infos:
            info.wait_for_publish(10)
        assert done.wait(20), f"{len(received)} of 500 messages arrived"
        assert sorted(received) == list(range(500)) and len(set(received)) == 500
    finally:
        writer.disconnect()
        writer.loop_stop()
        ours.stop(reader)
