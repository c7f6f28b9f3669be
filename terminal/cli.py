"""`loyalty till`: sell, simulate and sync from the command line (the same functions the screen uses)."""

from __future__ import annotations

import json
from pathlib import Path

import click
import msgspec

from . import closures_cli, counter_cli
from .journal_option import open_journal

TERMINAL_HELP = "Till id, store then till: S001-T01."


KEY_HELP = "The till's signing key (loyalty till provision); tickets are signed with it."


@click.group(invoke_without_command=True)
@click.option("--terminal", help=TERMINAL_HELP + " Starts the cashier's screen when no subcommand is given.")
@click.option("--db", type=click.Path(dir_okay=False), help="The till's journal (SQLite file) for the screen.")
@click.option("--broker", envvar="LOYALTY_BROKER", help="Broker address mqtt://HOST:PORT; none: sell offline.")
@click.option("--reader", help="Card reader name (PC/SC); without it cards are typed or scanned.")
@click.option(
    "--printer",
    default="dummy",
    show_default=True,
    help="Receipt printer: dummy, file:PATH, network:HOST[:PORT] or usb:VID:PID.",
)
@click.option("--cashier", "cashier_name", default="cashier", show_default=True, help="Who sells.")
@click.option("--key", "key_path", type=click.Path(dir_okay=False), envvar="LOYALTY_TILL_KEY", help=KEY_HELP)
@click.option(
    "--status-every",
    default=30.0,
    show_default=True,
    type=click.FloatRange(min=1),
    envvar="LOYALTY_STATUS_EVERY",
    help="Seconds between two status reports to head office while online.",
)
@click.pass_context
def till(
    ctx: click.Context,
    terminal: str | None,
    db: str | None,
    broker: str | None,
    reader: str | None,
    printer: str,
    cashier_name: str,
    key_path: str | None,
    status_every: float,
) -> None:
    """The till: the cashier's screen (no subcommand), or sell, simulate sales and sync the outbox."""
    if ctx.invoked_subcommand is not None:
        return
    if not terminal or not db:
        raise click.UsageError(
            "the cashier's screen needs --terminal and --db, e.g. loyalty till --terminal S001-T01 --db till.db"
        )
    from .journal_option import parsed_terminal_and_broker

    from .app import run_till
    from .errors import TillError

    url = parsed_terminal_and_broker(terminal, broker)
    try:
        run_till(
            db,
            terminal,
            broker=url,
            reader=reader,
            printer=printer,
            cashier=cashier_name,
            key=key_path,
            status_every=status_every,
        )
    except TillError as exc:
        raise click.ClickException(str(exc)) from None


@till.command()
@click.option("--terminal", required=True, help=TERMINAL_HELP)
@click.option("--db", required=True, type=click.Path(dir_okay=False), help="The till's journal (SQLite file).")
@click.option("--card", help="Loyalty card number (13 digits).")
@click.option("--key", type=click.Path(dir_okay=False), envvar="LOYALTY_TILL_KEY", help=KEY_HELP)
@click.option("--cashier", default="cashier", show_default=True, help="Who sells.")
@click.option(
    "--line",
    "line_specs",
    multiple=True,
    required=True,
    metavar="GTIN,QTY,UNIT_CENTS[,CATEGORY]",
    help="One basket line; repeat for more.",
)
def sell(terminal: str, db: str, card: str | None, key: str | None, cashier: str, line_specs: tuple[str, ...]) -> None:
    """Close one ticket and print it as JSON."""
    from programme.cardnumber import validate_card_number
    from programme.errors import CardNumberError, ProgrammeError

    from .sale import parse_line_spec
    from .sale import sell as do_sell

    try:
        # Everything is checked before the journal is even opened: a refusal writes nothing.
        card = validate_card_number(card) if card else None
        lines = [parse_line_spec(spec) for spec in line_specs]
    except CardNumberError as exc:
        raise click.BadParameter(str(exc), param_hint="--card") from None
    except ProgrammeError as exc:
        raise click.BadParameter(str(exc), param_hint="--line") from None
    with open_journal(db, terminal, key) as journal:
        ticket = do_sell(journal, lines, card, cashier)
    click.echo(msgspec.json.encode(ticket).decode())


@till.command()
@click.option("--terminal", required=True, help=TERMINAL_HELP)
@click.option("--db", required=True, type=click.Path(dir_okay=False), help="The till's journal (SQLite file).")
@click.option("--tickets", "count", required=True, type=click.IntRange(min=1), help="How many tickets to close.")
@click.option("--seed", default=0, show_default=True, help="Random seed: the same seed sells the same baskets.")
@click.option(
    "--card-share",
    default=0.6,
    show_default=True,
    type=click.FloatRange(0, 1),
    help="Share of tickets that carry a loyalty card.",
)
@click.option("--key", type=click.Path(dir_okay=False), envvar="LOYALTY_TILL_KEY", help=KEY_HELP)
def simulate(terminal: str, db: str, count: int, seed: int, card_share: float, key: str | None) -> None:
    """Close N realistic tickets (1-60 lines from a generated catalogue), with a progress bar."""
    from rich.progress import Progress

    from .sale import sell as do_sell
    from .simulate import Shopper

    shopper = Shopper(seed=seed, card_share=card_share)
    with open_journal(db, terminal, key) as journal, Progress(transient=True) as progress:
        task = progress.add_task(f"selling at {terminal}", total=count)
        for lines, card in shopper.baskets(count):
            do_sell(journal, lines, card)
            progress.advance(task)
        click.echo(json.dumps({"terminal": terminal, **journal.totals(), "backlog": journal.backlog()}))


@till.command()
@click.option("--terminal", required=True, help=TERMINAL_HELP)
@click.option("--db", required=True, type=click.Path(dir_okay=False, exists=True), help="The till's journal.")
@click.option("--broker", required=True, envvar="LOYALTY_BROKER", help="Broker address: mqtt://HOST:PORT.")
@click.option("--wait", "wait_s", default=60.0, show_default=True, help="Seconds to wait for every ack.")
def sync(terminal: str, db: str, broker: str, wait_s: float) -> None:
    """Send the outbox and exit 0 once the server has acked everything; counts as JSON on the last line."""
    from sync.broker_url import parse_broker_url
    from sync.errors import SyncError
    from sync.sender import OutboxSender

    try:
        url = parse_broker_url(broker)
    except SyncError as exc:
        raise click.BadParameter(str(exc), param_hint="--broker") from None
    with open_journal(db, terminal) as journal:
        before = journal.backlog()
    from sync.reporter import StatusReporter

    from .rules_store import rules_version_now

    sender = OutboxSender(db, terminal, url)
    with sender:
        reporter = StatusReporter(sender, rules_version=rules_version_now).start()  # head office sees the backlog
        try:
            synced = sender.wait_synced(wait_s)
            status = sender.status
            if synced:  # the report of the drained backlog, before the connection closes
                reporter.wait_report(lambda report: report.backlog == 0, 2.0)
        finally:
            reporter.stop()
    summary = {
        "terminal": terminal,
        "sent": before - status.backlog,
        "backlog": status.backlog,
        "acked_to": status.acked_to,
        "connected": status.connected,
        "resends": status.resends,
    }
    click.echo(json.dumps(summary))
    if not synced:
        reason = "the broker could not be reached" if not status.connected else "the server did not ack in time"
        raise click.ClickException(
            f"{status.backlog} tickets still wait in the outbox after {wait_s:g} s: {reason}. "
            "They are kept; run the sync again when the server is up."
        )


@till.command()
@click.option("--terminal", required=True, help=TERMINAL_HELP)
@click.option("--key-dir", required=True, type=click.Path(file_okay=False), help="Where the till's key is kept.")
@click.option(
    "--head-office-key",
    type=click.Path(exists=True, dir_okay=False),
    help="Head office's public key file (KEY.pub of `loyalty server keys`), copied to "
    "KEY_DIR/head-office.pub: the till accepts rules, hot-list and offers signed by it only.",
)
def provision(terminal: str, key_dir: str, head_office_key: str | None) -> None:
    """Make this till's Ed25519 signing key; prints the public key to register at the server.

    Register it with `loyalty server register-till`; from then on the server verifies every
    ticket of this till and quarantines any whose signature fails. Until it has head office's
    public key, the till refuses every rules, hot-list and offers message.
    """
    from programme.ticket import store_of

    from .errors import TillError
    from .keys import HEAD_OFFICE_KEY
    from .keys import provision as make_key

    try:
        store_of(terminal)
        head_office = Path(head_office_key).read_text() if head_office_key else None
        path, public = make_key(terminal, key_dir, head_office)
    except (TillError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(
        json.dumps(
            {
                "terminal": terminal,
                "key": str(path),
                "public_key": public,
                "head_office_key": str(Path(key_dir) / HEAD_OFFICE_KEY) if head_office else None,
            }
        )
    )


# The subcommands kept in modules of their own: each module lists its COMMANDS (as server.cli.server's do).
for _command in (*closures_cli.COMMANDS, *counter_cli.COMMANDS):
    till.add_command(_command)


from .posapi.cli import COMMANDS as POS_API_COMMANDS  # noqa: E402 - the POS API (docs/pos-api.md)

for _command in POS_API_COMMANDS:
    till.add_command(_command)
