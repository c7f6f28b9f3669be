"""Broker addresses: mqtt://[user[:password]@]host:port, or mqtts://...?ca=/path/ca.crt for TLS.

A password in the address shows in `ps` and in shell history: give the user only and put the
password in a file (`?password-file=PATH`, or LOYALTY_BROKER_PASSWORD_FILE; mode 600) or in
LOYALTY_BROKER_PASSWORD.
"""

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from .errors import BrokerUrlError

DEFAULT_PORT = {"mqtt": 1883, "mqtts": 8883}
PASSWORD_ENV = "LOYALTY_BROKER_PASSWORD"
PASSWORD_FILE_ENV = "LOYALTY_BROKER_PASSWORD_FILE"


def read_password_file(path: str) -> str:
    """The password in a private file (first line); BrokerUrlError when missing or readable by others."""
    file = Path(path).expanduser()
    try:
        mode = stat.S_IMODE(file.stat().st_mode)
    except FileNotFoundError:
        raise BrokerUrlError(f"broker password file {path} does not exist") from None
    if mode & 0o077:
        raise BrokerUrlError(
            f"broker password file {path} is readable by others (mode {mode:o}): "
            f"make it private with `chmod 600 {path}`"
        )
    return file.read_text().strip()


def _password(username: str | None, password: str | None, query: dict) -> str | None:
    if password or not username:
        return password
    if query.get("password-file"):
        return read_password_file(query["password-file"][0])
    if os.environ.get(PASSWORD_FILE_ENV):
        return read_password_file(os.environ[PASSWORD_FILE_ENV])
    return os.environ.get(PASSWORD_ENV) or None


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
    query = parse_qs(parts.query)
    username = unquote(parts.username) if parts.username else None
    return BrokerUrl(
        host=parts.hostname,
        port=port,
        tls=parts.scheme == "mqtts",
        username=username,
        password=_password(username, unquote(parts.password) if parts.password else None, query),
        ca_file=query.get("ca", [None])[0],
    )
