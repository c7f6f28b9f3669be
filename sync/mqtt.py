"""One place that builds paho clients and turns MQTT reason codes into SyncError.

A client that logs in with an account gets a client id tied to that account: Mosquitto 2.0.11 lets any
account connect under any client id and so throw off the client that held it (`clientid_prefixes` is
global, `use_username_as_clientid` allows one connection per account, and the dynamic-security plugin
binds an account to one id, not an id to an account). So the id the broker sees ends with a tag derived
from the account's password (HMAC-SHA256): nobody without that password can compute it.
"""

import hashlib
import hmac
import threading

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from .broker_url import BrokerUrl
from .errors import ConnectError

RECONNECT_MIN_DELAY = 0.2
RECONNECT_MAX_DELAY = 10
MAX_INFLIGHT = 100
KEEPALIVE = 30


READ_CHUNK = 256 * 1024  # bytes asked of the socket at once
READ_BURST = 200  # packets handled from memory before the loop looks at the socket again


class BufferedSocket:
    """Reads the socket in large chunks and serves paho's small reads from memory.

    paho reads each packet's header a byte at a time: three or four recv() calls and a select()
    per message, most of the server's receive cost. `pending()` tells paho's loop that bytes wait
    here, as it does for TLS, so it reads them instead of sleeping in select().
    """

    def __init__(self, sock):
        self._sock = sock
        self._buf = b""
        self._pos = 0
        self._inner_pending = getattr(sock, "pending", None)  # a TLS socket buffers too

    def recv(self, size: int) -> bytes:
        if self._pos >= len(self._buf):
            data = self._sock.recv(READ_CHUNK)  # BlockingIOError, TLS want-read and b"" pass through
            if len(data) <= size:
                return data
            self._buf, self._pos = data, 0
        end = self._pos + size
        chunk = self._buf[self._pos : end]
        self._pos = min(end, len(self._buf))
        return chunk

    def pending(self) -> int:
        return len(self._buf) - self._pos + (self._inner_pending() if self._inner_pending else 0)

    def fileno(self) -> int:
        return self._sock.fileno()

    def __getattr__(self, name):
        return getattr(self._sock, name)


class Client(mqtt.Client):
    """paho's client reading through a BufferedSocket (plain TCP and TLS; websockets as paho does)."""

    def _create_socket(self):
        sock = super()._create_socket()
        return sock if self._transport == "websockets" else BufferedSocket(sock)

    def _packet_queue(self, *args, **kwargs):
        # A packet queued on the network thread itself (a PUBACK) is seen by the loop's next turn:
        # the wake-up byte paho writes to its socket pair then costs a system call per message for nothing.
        if self._thread is None or threading.current_thread() is not self._thread:
            return super()._packet_queue(*args, **kwargs)
        wake, self._sockpairW = self._sockpairW, None
        try:
            return super()._packet_queue(*args, **kwargs)
        finally:
            self._sockpairW = wake

    def loop_read(self, max_packets: int = 1) -> mqtt.MQTTErrorCode:
        rc = super().loop_read(max_packets)
        for _ in range(READ_BURST):  # paho reads one packet per loop turn: take what is already here
            sock = self._sock
            if rc != mqtt.MQTT_ERR_SUCCESS or not isinstance(sock, BufferedSocket) or not sock.pending():
                break
            rc = super().loop_read(max_packets)
        return rc


def account_client_id(url: BrokerUrl, client_id: str) -> str:
    """`client_id`, and with an account's password `client_id-TAG`: TAG is 16 hex digits of
    HMAC-SHA256(password, username NUL client_id), stable so a persistent session is found again."""
    if not url.password:
        return client_id
    tag = hmac.new(url.password.encode(), f"{url.username or ''}\0{client_id}".encode(), hashlib.sha256)
    return f"{client_id}-{tag.hexdigest()[:16]}"


def till_client_id(terminal: str, role: str) -> str:
    """The one spelling of a till's MQTT client ids: `till-S001-T01` for its outbox sender (a persistent
    session: the broker keeps its acks while the till is off), `till-S001-T01-{role}` for the others
    (`down`: acks' companions, hot-list, offers, balances; `rules`; `ask-XXXXXX`: a request and its reply)."""
    return f"till-{terminal}" if role == "outbox" else f"till-{terminal}-{role}"


def start(client: mqtt.Client, url: BrokerUrl) -> None:
    """Connect in the background and keep reconnecting (paho's loop thread); callbacks say when it is up."""
    client.connect_async(url.host, url.port)
    client.loop_start()


def stop(client: mqtt.Client) -> None:
    client.disconnect()
    client.loop_stop()


def make_client(url: BrokerUrl, client_id: str, *, clean_session: bool = True) -> mqtt.Client:
    client = Client(
        CallbackAPIVersion.VERSION2,
        client_id=account_client_id(url, client_id),
        clean_session=clean_session,
        protocol=mqtt.MQTTv311,
    )
    # Brokers that refuse anonymous sessions (and amqtt, which keeps no queue for them) need a name.
    client.username_pw_set(url.username or client_id, url.password)
    # paho annotates the delays int but adds and compares them as seconds: 0.2 s works (and tests patch floats).
    client.reconnect_delay_set(RECONNECT_MIN_DELAY, RECONNECT_MAX_DELAY)  # type: ignore[arg-type]
    client.max_inflight_messages_set(MAX_INFLIGHT)
    if url.tls:
        client.tls_set(ca_certs=url.ca_file)
    return client


def check_rc(rc: int, what: str) -> None:
    """Raise ConnectError for a paho error code, with paho's own text."""
    if rc != mqtt.MQTT_ERR_SUCCESS:
        raise ConnectError(f"{what}: {mqtt.error_string(rc)}")
