"""A till's account cannot throw the server off the broker by connecting under the server's client id
(real Mosquitto with the generated configuration)."""

from __future__ import annotations

import threading

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from sync.broker_config import SERVER_USER, read_password
from sync.broker_url import parse_broker_url
from sync.mqtt import account_client_id, make_client


SERVER_ID = "loyalty-server-ingest"


def url_of(made, user: str) -> str:
    return f"mqtts://{user}:{read_password(made.directory, user)}@127.0.0.1:{made.port}?ca={made.ca_file}"


def raw_client(made, user: str, client_id: str) -> mqtt.Client:
    """A plain paho client with this exact client id (no derivation), connected: what an attacker runs."""
    connected = threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv311)
    client.username_pw_set(user, read_password(made.directory, user))
    client.tls_set(ca_certs=str(made.ca_file))
    client.on_connect = lambda c, u, f, rc, p: connected.set() if not rc.is_failure else None
    client.connect("127.0.0.1", made.port)
    client.loop_start()
    assert connected.wait(10), f"{user} could not connect"
    return client


class Watched:
    """A client through make_client, as the server and tills build them; counts its disconnections."""

    def __init__(self, url: str, client_id: str, clean_session: bool = True):
        self.connected, self.dropped = threading.Event(), threading.Event()
        self.refused: str | None = None
        self.client = make_client(parse_broker_url(url), client_id, clean_session=clean_session)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = lambda c, u, f, rc, p: self.dropped.set()
        self.client.connect_async(parse_broker_url(url).host, parse_broker_url(url).port)
        self.client.loop_start()

    def _on_connect(self, client, userdata, flags, reason_code, properties):
        if reason_code.is_failure:
            self.refused = str(reason_code)
        self.connected.set()

    def round_trip(self) -> bool:
        """A QoS 1 publish acked by the broker: the connection is alive."""
        info = self.client.publish("loyalty/v1/down/S001-T01/commands", b"ping", qos=1)
        info.wait_for_publish(5)
        return info.is_published()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.mark.timeout(60)
def test_a_till_connecting_with_the_servers_client_id_does_not_disconnect_the_server(secure_broker):
    server = Watched(url_of(secure_broker, SERVER_USER), SERVER_ID, clean_session=False)
    try:
        assert server.connected.wait(10) and server.refused is None
        for _ in range(3):  # an attacker with a till's account, in a loop, under the server's documented id
            attacker = raw_client(secure_broker, "S001-T01", SERVER_ID)
            attacker.disconnect()
            attacker.loop_stop()
        # The broker handles a takeover before it acks the newcomer: by now the server would be gone.
        assert server.round_trip(), "the server's connection no longer works"
        assert not server.dropped.is_set(), "the server was thrown off the broker"
    finally:
        server.close()


def test_an_accounts_client_ids_need_its_password():
    server = parse_broker_url("mqtts://loyalty-server:s3cret@broker:8883")
    other = parse_broker_url("mqtts://S001-T01:guess@broker:8883")
    derived = account_client_id(server, SERVER_ID)
    assert derived.startswith(f"{SERVER_ID}-") and len(derived) == len(SERVER_ID) + 17
    assert derived == account_client_id(server, SERVER_ID)  # stable: the ingest's persistent session stays
    assert account_client_id(other, SERVER_ID) != derived
    assert account_client_id(parse_broker_url("mqtt://127.0.0.1:1883"), SERVER_ID) == SERVER_ID  # demo: no account
