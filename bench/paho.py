"""sync.mqtt's buffered paho client against paho's own, receiving the same burst of QoS 1 messages from a real
Mosquitto (the server's ingest path), same run. The override of paho's privates (sync/mqtt.py) stays only
while it wins; tests/sync/test_paho_contract.py fails when paho moves what it relies on."""

from __future__ import annotations

import sys
import tempfile
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from sync import mqtt as ours
from sync.broker_url import parse_broker_url
from sync.mosquitto import Mosquitto

from .common import table

MESSAGES, QUICK_MESSAGES = 50_000, 5_000
PAYLOAD = b"x" * 600  # about a ticket's size on the wire
ROUNDS = 3


def receive(url, client: mqtt.Client, messages: int) -> float:
    """Seconds for `client` to receive `messages` QoS 1 messages published in a burst (after subscribing)."""
    done, subscribed, count = threading.Event(), threading.Event(), [0]

    def on_message(c, userdata, message):
        count[0] += 1
        if count[0] == messages:
            done.set()

    client.on_connect = lambda c, *a: c.subscribe("bench/#", qos=1)
    client.on_subscribe = lambda *a: subscribed.set()
    client.on_message = on_message
    client.connect(url.host, url.port)
    client.loop_start()
    subscribed.wait(10)
    writer = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-writer")
    writer.max_inflight_messages_set(1000)
    writer.connect(url.host, url.port)
    writer.loop_start()
    started = time.perf_counter()
    for n in range(messages):
        writer.publish(f"bench/{n % 16}", PAYLOAD, qos=1)
    if not done.wait(300):
        raise RuntimeError(f"only {count[0]} of {messages} messages arrived")
    elapsed = time.perf_counter() - started
    for c in (writer, client):
        c.disconnect()
        c.loop_stop()
    return elapsed


def run(quick: bool = False) -> dict:
    messages = QUICK_MESSAGES if quick else MESSAGES
    with tempfile.TemporaryDirectory() as tmp:
        broker = Mosquitto(Path(tmp) / "mosquitto", max_queued=messages * 2).start()
        try:
            url = parse_broker_url(broker.url)
            times: dict[str, list[float]] = {"paho": [], "buffered": []}
            for round_ in range(ROUNDS):  # alternate, so both see the same machine
                times["paho"].append(
                    receive(url, mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-paho-{round_}"), messages)
                )
                times["buffered"].append(receive(url, ours.make_client(url, f"bench-ours-{round_}"), messages))
        finally:
            broker.stop()
    best = {name: min(values) for name, values in times.items()}
    return {
        "messages": messages,
        "paho_msg_s": round(messages / best["paho"]),
        "buffered_msg_s": round(messages / best["buffered"]),
        "speedup": round(best["paho"] / best["buffered"], 2),
    }


def markdown(result: dict) -> str:
    return (
        f"## paho's client and ours, receiving {result['messages']:,} QoS 1 messages from Mosquitto\n\n"
        + table(
            [
                ("paho-mqtt's Client (baseline)", f"{result['paho_msg_s']:,} msg/s"),
                ("sync.mqtt.Client (buffered reads)", f"{result['buffered_msg_s']:,} msg/s"),
                ("speed-up", f"{result['speedup']} x"),
            ],
            ("client", "received"),
        )
        + "\nBest of 3 rounds each, alternating. The override is kept while it wins; "
        "tests/sync/test_paho_contract.py fails when paho moves the internals it relies on.\n"
    )


if __name__ == "__main__":
    print(markdown(run("--quick" in sys.argv)))
