"""Broker addresses: mqtt://[user:password@]host:port, or mqtts://...?ca=/path/ca.crt for TLS."""
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

from .errors import BrokerUrlError

DEFAULT_PORT = {"mqtt": 1883, "mqtts": 8883}


@dataclass(frozen=True)
class BrokerUrl:
    host: str
    port: int
    tls: bool = False
    username: str | None = None
    password: str | None = None
    ca_file: str | None = None

    def __str__(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"


def parse_broker_url(url: str) -> BrokerUrl:
    parts = urlsplit(url)
    if parts.scheme not in DEFAULT_PORT or not parts.hostname:
        raise BrokerUrlError(f"broker address {url!r} should look like mqtt://127.0.0.1:1883")
    try:
        port = parts.port or DEFAULT_PORT[parts.scheme]
    except ValueError:
        raise BrokerUrlError(f"broker address {url!r} has a bad port") from None
    return BrokerUrl(
        host=parts.hostname,
        port=port,
        tls=parts.scheme == "mqtts",
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        ca_file=parse_qs(parts.query).get("ca", [None])[0],
    )
