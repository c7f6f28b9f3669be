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
    from .embedded_broker import EmbeddedBroker
    from .errors import SyncError

    try:
        running = EmbeddedBroker(port=port, host=host).start()
    except SyncError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"embedded broker listening on {running.url} (Ctrl-C to stop)", err=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        running.stop()
