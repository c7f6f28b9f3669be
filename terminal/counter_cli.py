"""`loyalty till return` and `loyalty till reprint`: the screen's F7 and F8 from the command line."""

from __future__ import annotations

import click

TERMINAL_HELP = "Till id, store then till: S001-T01."


CONNECT_WAIT = 3.0  # seconds `return --broker` waits to reach the broker before going on offline


def _session(db: str, terminal: str, printer: str, requester=None):
    from programme.ticket import store_of

    from .errors import TillError
    from .till import TillSession

    try:
        store_of(terminal)
        return TillSession(db, terminal, printer=printer, online=lambda: requester is not None, requester=requester)
    except (TillError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None


def _requester(terminal: str, broker: str | None):
    """Head office's ear for a return (terminal.requests); None without --broker. Offline, asking answers None."""
    if not broker:
        return None
    from sync.broker_url import parse_broker_url
    from sync.errors import SyncError

    from .requests import Requester

    try:
        url = parse_broker_url(broker)
    except SyncError as exc:
        raise click.BadParameter(str(exc), param_hint="--broker") from None
    requester = Requester(terminal, url).start()
    requester.ready.wait(CONNECT_WAIT)
    return requester


def parse_picks(specs: tuple[str, ...]) -> dict[int, int]:
    """`3` (line 3, one unit) or `2x3` (two units of line 3), lines numbered from 1 as on the screen."""
    picks: dict[int, int] = {}
    for spec in specs:
        qty, _, line = spec.rpartition("x")
        if not line.isdigit() or int(line) < 1 or (qty and not qty.isdigit()):
            raise click.BadParameter(f"{spec!r}: give a line number, or QTYxLINE such as 2x3", param_hint="--line")
        picks[int(line) - 1] = picks.get(int(line) - 1, 0) + (int(qty) if qty else 1)
    return picks


@click.command("return")
@click.option("--terminal", required=True, help=TERMINAL_HELP)
@click.option("--db", required=True, type=click.Path(dir_okay=False, exists=True), help="The till's journal.")
@click.option("--ticket", "ticket_id", required=True, help="The original ticket, e.g. S001-T01-00000042.")
@click.option(
    "--line",
    "line_specs",
    multiple=True,
    required=True,
    metavar="[QTYx]LINE",
    help="A line to return (numbered from 1); repeat for more.",
)
@click.option(
    "--printer", default="dummy", show_default=True, help="dummy, file:PATH, network:HOST[:PORT], usb:VID:PID."
)
@click.option(
    "--broker",
    envvar="LOYALTY_BROKER",
    help="Broker address mqtt://HOST:PORT: head office is asked for another till's ticket and what "
    "other tills returned of it; none: what this till knows.",
)
def return_(
    terminal: str, db: str, ticket_id: str, line_specs: tuple[str, ...], printer: str, broker: str | None
) -> None:
    """Return lines of a ticket (this till's, or with --broker another's): refund in cash, reverse their points;
    prints the receipt."""
    from programme.errors import ProgrammeError

    from .errors import TillError

    picks = parse_picks(line_specs)
    requester = _requester(terminal, broker)
    try:
        session = _session(db, terminal, printer, requester)
        try:
            closed = session.return_lines(ticket_id, picks)
        except (TillError, ProgrammeError) as exc:
            raise click.ClickException(str(exc)) from None
        finally:
            session.close_session()
    finally:
        if requester is not None:
            requester.stop()
    click.echo(closed.receipt, nl=False)


@click.command()
@click.option("--terminal", required=True, help=TERMINAL_HELP)
@click.option("--db", required=True, type=click.Path(dir_okay=False, exists=True), help="The till's journal.")
@click.option("--ticket", "ticket_id", required=True, help="The ticket to reprint, e.g. S001-T01-00000042.")
@click.option(
    "--printer", default="dummy", show_default=True, help="dummy, file:PATH, network:HOST[:PORT], usb:VID:PID."
)
def reprint(terminal: str, db: str, ticket_id: str, printer: str) -> None:
    """Print a ticket's receipt again, marked DUPLICATA, and show it."""
    from .errors import TillError

    session = _session(db, terminal, printer)
    try:
        text = session.reprint(ticket_id)
    except TillError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        session.close_session()
    click.echo(text, nl=False)


COMMANDS = [return_, reprint]
