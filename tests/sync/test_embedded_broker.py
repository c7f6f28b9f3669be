"""The embedded demo broker (amqtt) checks nobody: any client reads and publishes every retained message,
so `loyalty broker` says so when it starts, and tills and the server trust only head office's signature."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from sync import topics
from sync.embedded_broker import UNAUTHENTICATED, EmbeddedBroker
from sync.mosquitto import free_port

ROOT = Path(__file__).resolve().parents[2]


def client_of(port: int, username: str, password: str) -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"t-{username}")
    client.username_pw_set(username, password)
    connected = threading.Event()
    client.on_connect = lambda c, u, f, rc, p: connected.set() if not rc.is_failure else None
    client.connect("127.0.0.1", port)
    client.loop_start()
    assert connected.wait(10), f"{username} could not connect"
    return client


@pytest.mark.timeout(60)
def test_any_client_publishes_retained_messages_every_subscriber_receives():
    with EmbeddedBroker() as broker:
        stranger = client_of(broker.port, "anyone", "any password")  # no account exists: amqtt lets it in
        try:
            for topic in (topics.RULES, topics.HOTLIST, topics.OFFERS):
                stranger.publish(topic, b'{"forged": true}', qos=1, retain=True).wait_for_publish(10)
        finally:
            stranger.disconnect()
            stranger.loop_stop()
        got: dict[str, bytes] = {}
        all_three = threading.Event()

        def on_message(c, u, message):
            if message.retain:
                got[message.topic] = message.payload
            if len(got) == 3:
                all_three.set()

        till = client_of(broker.port, "S001-T01", "another password")
        till.on_message = on_message
        till.subscribe(f"{topics.PREFIX}/down/all/#", qos=1)
        try:
            assert all_three.wait(10), got
        finally:
            till.disconnect()
            till.loop_stop()
    assert got == {topic: b'{"forged": true}' for topic in (topics.RULES, topics.HOTLIST, topics.OFFERS)}


@pytest.mark.timeout(60)
def test_loyalty_broker_says_it_is_unauthenticated_and_for_demos_only():
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "loyalty", "broker", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines = []
        for line in proc.stderr:
            lines.append(line.rstrip("\n"))
            if "listening on" in line:
                break
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            stopped = proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()  # never leave it running for the next tests
            proc.wait(10)
            stopped = None
        proc.stderr.close()
    assert stopped == 0, "loyalty broker did not stop on SIGTERM within 30 s"
    assert f"warning: {UNAUTHENTICATED}" in lines
    assert UNAUTHENTICATED == (
        "this embedded broker (amqtt) is unauthenticated and for demos only: any client can "
        "read and publish every topic, retained rules and hot-list included; use Mosquitto "
        "with `loyalty broker config` in a store"
    )
    assert any('"event":"broker_unauthenticated"' in line for line in lines), lines
    assert lines[-1] == f"embedded broker listening on mqtt://127.0.0.1:{port} (Ctrl-C to stop)"
