"""Run a real Mosquitto broker: an explicit configuration, a free loopback port, stopped by pid."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from .errors import SyncError

START_TIMEOUT = 10.0

CONFIG = """\
# Written by loyalty: loopback only, persistent sessions, queues raised and bounded explicitly.
listener {port} {host}
allow_anonymous {allow_anonymous}
persistence true
persistence_location {data_dir}/
autosave_interval 1
max_queued_messages {max_queued}
max_inflight_messages 100
max_packet_size {max_packet}
# As the production configuration (sync/broker_config.py): no ~40 ms delayed-ack stall on small messages.
set_tcp_nodelay true
log_dest file {data_dir}/mosquitto.log
log_type error
log_type warning
log_type notice
connection_messages true
{extra}
"""


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def mosquitto_binary() -> str | None:
    return shutil.which("mosquitto") or next(
        (p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if os.path.exists(p)), None
    )


def wait_port(host: str, port: int, timeout: float, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            said = proc.stderr.read().decode(errors="replace").strip() if proc.stderr else ""
            raise SyncError(
                f"mosquitto exited with code {proc.returncode} before listening on {host}:{port}"
                + (f": {said}" if said else "")
            )
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise SyncError(f"nothing listens on {host}:{port} after {timeout} s")


class Mosquitto:
    """A Mosquitto process with its own config and data dir; start() and stop() may repeat (same port)."""

    def __init__(
        self,
        data_dir: str | Path,
        port: int | None = None,
        host: str = "127.0.0.1",
        max_queued: int = 1_000_000,
        max_packet: int = 4 * 1024 * 1024,
        allow_anonymous: bool = True,
        extra: str = "",
        config_path: str | Path | None = None,
    ):
        """Writes its own loopback configuration, or runs `config_path` (then give its host and port)."""
        binary = mosquitto_binary()
        if binary is None:
            raise SyncError("mosquitto is not installed: run `make setup` (or apt-get install mosquitto)")
        self.binary = binary
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.host = host
        self.port = port or free_port(host)
        if config_path is not None:
            self.config_path = Path(config_path)
        else:
            self.config_path = self.data_dir / "mosquitto.conf"
            self.config_path.write_text(
                CONFIG.format(
                    port=self.port,
                    host=host,
                    data_dir=self.data_dir,
                    max_queued=max_queued,
                    max_packet=max_packet,
                    allow_anonymous="true" if allow_anonymous else "false",
                    extra=extra,
                )
            )
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    def start(self) -> Mosquitto:
        self.proc = subprocess.Popen(
            [self.binary, "-c", str(self.config_path)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        wait_port(self.host, self.port, START_TIMEOUT, self.proc)
        return self

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc and self.proc.stderr:
            self.proc.stderr.close()
        self.proc = None

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    def __enter__(self) -> Mosquitto:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
