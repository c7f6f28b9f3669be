"""The zero-install demo broker: amqtt (pure Python, MQTT 3.1.1) in its own thread and event loop.

For demos only: production and the delivery tests use Mosquitto (see docs/operations.md). It checks
no password and no ACL: any client may read and publish any topic, retained messages included, which is
why what head office pushes is signed (sync/signed.py).
"""

from __future__ import annotations

import asyncio
import logging
import threading

from .errors import SyncError
from .mosquitto import free_port

UNAUTHENTICATED = (
    "this embedded broker (amqtt) is unauthenticated and for demos only: any client can read and "
    "publish every topic, retained rules and hot-list included; use Mosquitto with "
    "`loyalty broker config` in a store"
)


class EmbeddedBroker:
    def __init__(self, port: int | None = None, host: str = "127.0.0.1"):
        self.host = host
        self.port = port or free_port(host)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._broker = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name="amqtt", daemon=True)

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    def _config(self) -> dict:
        return {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}},
            # Anonymous sessions keep no offline messages in amqtt: every client gives a username.
            "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": False}},
        }

    def _main(self) -> None:
        from amqtt.broker import Broker

        for name in ("amqtt", "transitions"):
            logging.getLogger(name).setLevel(logging.WARNING)
        loop = asyncio.new_event_loop()
        self._loop = loop

        async def boot():
            self._broker = Broker(self._config())
            await self._broker.start()

        try:
            loop.run_until_complete(boot())
        except BaseException as exc:  # noqa: BLE001 - reported to the starting thread
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        loop.run_forever()
        loop.close()

    def start(self) -> EmbeddedBroker:
        self._thread.start()
        self._ready.wait(30)
        if self._error is not None:
            raise SyncError(f"the embedded broker could not start on {self.host}:{self.port}: {self._error}")
        return self

    def stop(self) -> None:
        if self._loop is None or self._broker is None:
            return
        future = asyncio.run_coroutine_threadsafe(self._broker.shutdown(), self._loop)
        try:
            future.result(timeout=10)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
