"""`loyalty broker`: the embedded demo broker (amqtt)."""

import signal
import threading

import click


@click.group(invoke_without_command=True)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=1883, show_default=True, help="Port to listen on.")
@click.pass_context
def broker(ctx: click.Context, host: str, port: int) -> None:
    """Run the embedded MQTT broker (amqtt) for demos until Ctrl-C.

    Production and the tests use Mosquitto; this broker needs nothing installed.
    """
    if ctx.invoked_subcommand is not None:
        return
    import logging

    from .embedded_broker import UNAUTHENTICATED, EmbeddedBroker
    from .errors import SyncError
    from .events import log_event

    try:
        running = EmbeddedBroker(port=port, host=host).start()
    except SyncError as exc:
        raise click.ClickException(str(exc)) from None
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())  # before saying it listens: a supervisor may stop it at once
    click.echo(f"warning: {UNAUTHENTICATED}", err=True)
    log_event(logging.getLogger("loyalty.broker"), "broker_unauthenticated", logging.WARNING, url=running.url)
    click.echo(f"embedded broker listening on {running.url} (Ctrl-C to stop)", err=True)
    try:
        while not stop.wait(0.5):  # a bounded wait: the main thread runs the signal handler within half a second
            pass
    except KeyboardInterrupt:
        pass
    finally:
        running.stop()


@broker.command()
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Folder for config, keys, accounts.")
@click.option("--till", "tills", multiple=True, metavar="TERMINAL", help="A till account to create (repeat).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address the TLS listener binds to.")
@click.option("--port", default=8883, show_default=True, help="TLS port.")
@click.option(
    "--hostname", "hostnames", multiple=True, help="Names in the broker certificate (default: host, localhost)."
)
@click.option("--bridge-to", metavar="HOST:PORT", help="Make this a store broker bridged to head office's broker.")
@click.option("--store", "store_id", help="The store this broker serves (S042), with --bridge-to.")
@click.option("--bridge-user", help="Account of this store's bridge at head office's broker.")
@click.option(
    "--bridge-password-file", type=click.Path(dir_okay=False, exists=True), help="File holding that account's password."
)
@click.option("--bridge-ca", type=click.Path(dir_okay=False, exists=True), help="Head office broker's CA (TLS).")
@click.option(
    "--run-as",
    metavar="USER",
    help="Unprivileged account Mosquitto runs as (default: mosquitto when run as root, else you); "
    "it is given the files it reads. Never root.",
)
def config(
    out: str,
    tills: tuple[str, ...],
    host: str,
    port: int,
    hostnames: tuple[str, ...],
    bridge_to: str | None,
    store_id: str | None,
    bridge_user: str | None,
    bridge_password_file: str | None,
    bridge_ca: str | None,
    run_as: str | None,
) -> None:
    """Write a hardened Mosquitto configuration: TLS, one account per till and for the server, ACLs.

    Re-run with more --till to add accounts; existing passwords and the CA are kept. New passwords
    are written to OUT/credentials/NAME (mode 600) to provision each till. Mosquitto runs as an
    unprivileged account; the configuration (which holds the bridge password) is mode 600.
    """
    import json
    from pathlib import Path

    from .broker_config import write_broker_config
    from .errors import SyncError

    bridge = None
    if bridge_to:
        from .broker_config import bridge_section

        if not store_id:
            raise click.UsageError("--bridge-to needs --store (the store id, e.g. S042)")
        password = Path(bridge_password_file).read_text().strip() if bridge_password_file else None
        bridge = bridge_section(store_id, bridge_to, bridge_user, password, bridge_ca)
    try:
        made = write_broker_config(Path(out), list(tills), host, port, list(hostnames) or None, run_as, bridge)
    except SyncError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(
        json.dumps(
            {
                "config": str(made.config_file),
                "ca": str(made.ca_file),
                "listener": f"{host}:{port}",
                "bridge_to": bridge_to,
                "new_accounts": sorted(made.credentials),
                "password_files": str(made.directory / "credentials"),
                "run": f"mosquitto -c {made.config_file}",
            }
        )
    )
