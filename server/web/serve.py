"""Serve the desk app with waitress (never Flask's development server), alone or beside ingest."""

from __future__ import annotations

import threading

from waitress.server import create_server

from . import create_app

THREADS = 8


def make_server(
    db: str, host: str = "127.0.0.1", port: int = 8080, broker: str | None = None, instance: str | None = None
):
    """A waitress server for the desk app, not yet running: call .run() (or run_in_thread) and .close()."""
    config = {"DB": db}
    if broker:
        config["BROKER"] = broker
    app = create_app(config, instance_path=instance)
    server = create_server(app, host=host, port=port, threads=THREADS)
    close = server.close

    def close_all() -> None:  # the server, then the database connections its requests kept open
        close()
        app.extensions["desk_connections"].close()

    server.close = close_all
    return server


def run_in_thread(server) -> threading.Thread:
    thread = threading.Thread(target=server.run, name="web", daemon=True)
    thread.start()
    return thread
