"""`loyalty till serve`: the POS API with the till's sync worker and card reader beside it, as `loyalty till`.

Served by waitress on loopback; a non-loopback address is refused unless a TLS certificate and key are given,
and then served over TLS by werkzeug's threaded server (waitress speaks no TLS). SIGTERM stops it cleanly.
"""

from __future__ import annotations

import ipaddress
import json
import signal
import socket
import ssl
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import TillError
from .baskets import ABANDON_AFTER, PosHost

THREADS = 4  # waitress threads: calls are serialised on the session's thread anyway


class ServeError(TillError):
    """`loyalty till serve` cannot start: the text says what to change."""


@dataclass(frozen=True)
class Listen:
    host: str
    port: int

    @property
    def loopback(self) -> bool:
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False


def parse_listen(text: str) -> Listen:
    """`127.0.0.1:8765`, `[::1]:8765` or `0.0.0.0:8765`; port 0 picks a free one."""
    host, sep, port = text.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ServeError(f"--listen {text!r}: give HOST:PORT, e.g. 127.0.0.1:8765")
    return Listen(host, int(port))


def check_exposure(listen: Listen, tls_cert: str | None, tls_key: str | None) -> ssl.SSLContext | None:
    """The TLS context to serve with, None on loopback without TLS; refuses another host without TLS."""
    if bool(tls_cert) != bool(tls_key):
        raise ServeError("give both --tls-cert and --tls-key, or neither")
    if not tls_cert:
        if not listen.loopback:
            raise ServeError(
                f"--listen {listen.host}: only loopback (127.0.0.1, ::1) is served without TLS; give "
                "--tls-cert and --tls-key to serve other hosts"
            )
        return None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(tls_cert, tls_key)
    except (OSError, ssl.SSLError) as exc:
        raise ServeError(
            f"the TLS certificate or key cannot be used ({exc}): give a PEM certificate and its key"
        ) from None
    return context


class Uplink:
    """The sync worker, downlink, rules listener, status reporter and requester, wired as TillApp wires them."""

    def __init__(self, db: str, terminal: str, broker, key: str | None, status_every: float | None):
        from sync.reporter import StatusReporter
        from sync.sender import OutboxSender

        from ..downlink import DownlinkListener
        from ..keys import head_office_trust
        from ..requests import Requester
        from ..rules_store import RulesListener, rules_version_now

        trust = head_office_trust(key)
        self.sender = OutboxSender(db, terminal, broker)
        self.parts = [
            self.sender,
            DownlinkListener(db, terminal, broker, trust),
            RulesListener(db, broker, terminal, trust),
            StatusReporter(self.sender, rules_version_now, status_every),
        ]
        self.requester = Requester(terminal, broker)
        self.parts.append(self.requester)

    def online(self) -> bool:
        return self.sender.status.connected

    def start(self) -> None:
        for part in self.parts:
            part.start()

    def stop(self) -> None:
        for part in reversed(self.parts):
            part.stop()


class Reader:
    """The chip reader loop in its own thread: each card read is handed to the host for `from_reader`."""

    def __init__(self, name: str, host: PosHost, public_key=None):
        self.name, self.host, self.public_key = name, host, public_key
        self.state = f"{name}: starting"
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, name="pos-card-reader", daemon=True)

    def _run(self) -> None:
        from ..cardio import watch_chip

        def on_state(state: str) -> None:
            if state == "ready":  # first, or again once the card read is taken out
                self.host.card_gone()
            self.state = f"{self.name}: {state}"

        def on_error(message: str) -> None:
            self.state = f"{self.name}: {message}"

        watch_chip(
            self.name,
            self.stop_event,
            public_key=self.public_key,
            on_card=self.host.card_read,
            on_error=on_error,
            on_state=on_state,
        )

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stop_event.set()
        self.thread.join(10)


def bind(where: Listen, listen: str) -> socket.socket:
    """The listening socket, bound here so that a refusal is a message (and no socket is left open)."""
    family = socket.AF_INET6 if ":" in where.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((where.host, where.port))
        sock.listen(1024)
    except OSError as exc:
        sock.close()
        raise ServeError(
            f"cannot listen on {listen}: {exc.strerror}; stop what listens there or give another --listen"
        ) from None
    return sock


def _stop_on_sigterm() -> None:
    def stop(signum, frame):
        raise SystemExit(0)

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, stop)


def serve(
    db: str,
    terminal: str,
    *,
    listen: str = "127.0.0.1:8765",
    broker=None,
    reader: str | None = None,
    printer: str = "dummy",
    cashier: str = "cashier",
    key: str | None = None,
    abandon_after: float = ABANDON_AFTER,
    tls_cert: str | None = None,
    tls_key: str | None = None,
    status_every: float | None = None,
    say: Callable[[str], None] = print,
) -> None:
    """Serve until SIGTERM or Ctrl+C; says one JSON line with the address once it listens."""
    where = parse_listen(listen)
    context = check_exposure(where, tls_cert, tls_key)
    uplink = Uplink(db, terminal, broker, key, status_every) if broker else None
    reader_loop: Reader | None = None
    host = PosHost(
        db,
        terminal,
        cashier=cashier,
        printer=printer,
        key=key,
        online=uplink.online if uplink else (lambda: False),
        requester=uplink.requester if uplink else None,
        abandon_after=abandon_after,
        reader_state=lambda: reader_loop.state if reader_loop else "none (typed/scanned)",
    )
    if not host.tokens():
        host.close()
        raise ServeError(
            f"no POS may call this till yet: make a token with loyalty till pos-token --terminal "
            f"{terminal} --db {db} --pos POS-1 --out pos-1.token"
        )
    from .app import create_app

    app = create_app(host)
    if reader:
        reader_loop = Reader(reader, host)
    _stop_on_sigterm()
    try:
        if uplink:
            uplink.start()
        if reader_loop:
            reader_loop.start()
        host.start_reaper()
        sock = bind(where, listen)
        port = sock.getsockname()[1]
        if context is None:
            from waitress import create_server

            server = create_server(app, sockets=[sock], threads=THREADS, ident="loyalty-till")
            scheme, run = "http", server.run
        else:
            from werkzeug.serving import make_server

            with sock:  # werkzeug serves a duplicate of it
                server = make_server(where.host, port, app, threaded=True, ssl_context=context, fd=sock.fileno())
            scheme, run = "https", server.serve_forever
        name = f"[{where.host}]" if ":" in where.host else where.host
        say(json.dumps({"terminal": terminal, "listening": f"{scheme}://{name}:{port}"}))
        sys.stdout.flush()
        try:
            run()
        except KeyboardInterrupt:
            pass
    finally:
        if reader_loop:
            reader_loop.stop()
        host.close()
        if uplink:
            uplink.stop()
