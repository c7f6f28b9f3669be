"""`loyalty till serve` and `loyalty till pos-token`: parse, call terminal.posapi, show."""

from __future__ import annotations

import json

import click

TERMINAL_HELP = "Till id, store then till: S001-T01."


@click.command("serve")
@click.option("--terminal", required=True, help=TERMINAL_HELP)
@click.option("--db", required=True, type=click.Path(dir_okay=False), help="The till's journal (SQLite file).")
@click.option(
    "--listen",
    default="127.0.0.1:8765",
    show_default=True,
    help="HOST:PORT to serve on; loopback only unless --tls-cert and --tls-key are given (port 0: any).",
)
@click.option("--broker", envvar="LOYALTY_BROKER", help="Broker address mqtt://HOST:PORT; none: sell offline.")
@click.option("--reader", help="Card reader name (PC/SC): a card read there answers identify with from_reader.")
@click.option(
    "--printer",
    default="dummy",
    show_default=True,
    help="Receipt printer: dummy, file:PATH, network:HOST[:PORT] or usb:VID:PID.",
)
@click.option("--cashier", default="cashier", show_default=True, help="Printed on receipts unless the POS names one.")
@click.option(
    "--key",
    type=click.Path(dir_okay=False),
    envvar="LOYALTY_TILL_KEY",
    help="The till's signing key (loyalty till provision); tickets are signed with it.",
)
@click.option(
    "--abandon-after",
    default=15.0,
    show_default=True,
    type=click.FloatRange(min=0.05, max=24 * 60),
    help="Minutes without a call after which an open basket is cancelled and journaled.",
)
@click.option("--tls-cert", type=click.Path(dir_okay=False, exists=True), help="PEM certificate to serve HTTPS.")
@click.option("--tls-key", type=click.Path(dir_okay=False, exists=True), help="PEM private key of --tls-cert.")
@click.option(
    "--status-every",
    default=30.0,
    show_default=True,
    type=click.FloatRange(min=1),
    envvar="LOYALTY_STATUS_EVERY",
    help="Seconds between two status reports to head office while online.",
)
def serve(
    terminal: str,
    db: str,
    listen: str,
    broker: str | None,
    reader: str | None,
    printer: str,
    cashier: str,
    key: str | None,
    abandon_after: float,
    tls_cert: str | None,
    tls_key: str | None,
    status_every: float,
) -> None:
    """Serve the POS API (HTTP JSON, /openapi.json) on the till's session, sync worker and card reader.

    Every call needs a POS token (loyalty till pos-token); prints one JSON line with the address once it
    listens, and runs until SIGTERM or Ctrl+C.
    """
    from ..journal_option import parsed_terminal_and_broker

    from ..errors import TillError
    from .serve import serve as run_serve

    url = parsed_terminal_and_broker(terminal, broker)
    try:
        run_serve(
            db,
            terminal,
            listen=listen,
            broker=url,
            reader=reader,
            printer=printer,
            cashier=cashier,
            key=key,
            abandon_after=abandon_after * 60,
            tls_cert=tls_cert,
            tls_key=tls_key,
            status_every=status_every,
            say=click.echo,
        )
    except TillError as exc:
        raise click.ClickException(str(exc)) from None


@click.command("pos-token")
@click.option("--terminal", required=True, help=TERMINAL_HELP)
@click.option("--db", required=True, type=click.Path(dir_okay=False), help="The till's journal (SQLite file).")
@click.option("--pos", "pos", required=True, help="The POS's name, e.g. POS-1 (a new token replaces its old one).")
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False),
    help="New file (0600) the token is written to; give it to the POS. The till keeps only its hash.",
)
def pos_token(terminal: str, db: str, pos: str, out: str) -> None:
    """Make a bearer token for a POS to call `loyalty till serve`; prints the POS and the file as JSON."""
    from programme.ticket import store_of

    from ..errors import TillError
    from ..journal import Journal
    from .tokens import make_token

    try:
        store_of(terminal)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--terminal") from None
    journal = Journal(db, terminal)
    try:
        path = make_token(journal.conn, pos, out)
    except TillError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        journal.close()
    click.echo(json.dumps({"terminal": terminal, "pos": pos, "token_file": path}))


COMMANDS = [serve, pos_token]
