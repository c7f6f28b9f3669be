"""One place that builds paho clients and turns MQTT reason codes into SyncError."""
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from .broker_url import BrokerUrl
from .errors import ConnectError

RECONNECT_MIN_DELAY = 0.2
RECONNECT_MAX_DELAY = 10
MAX_INFLIGHT = 100
KEEPALIVE = 30


def make_client(url: BrokerUrl, client_id: str, *, clean_session: bool = True) -> mqtt.Client:
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        clean_session=clean_session,
        protocol=mqtt.MQTTv311,
    )
    # Brokers that refuse anonymous sessions (and amqtt, which keeps no queue for them) need a name.
    client.username_pw_set(url.username or client_id, url.password)
    client.reconnect_delay_set(RECONNECT_MIN_DELAY, RECONNECT_MAX_DELAY)
    client.max_inflight_messages_set(MAX_INFLIGHT)
    if url.tls:
        client.tls_set(ca_certs=url.ca_file)
    return client


def check_rc(rc: int, what: str) -> None:
    """Raise ConnectError for a paho error code, with paho's own text."""
    if rc != mqtt.MQTT_ERR_SUCCESS:
        raise ConnectError(f"{what}: {mqtt.error_string(rc)}")
