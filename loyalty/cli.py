"""The `loyalty` console command. Subcommands live beside the code they drive and load lazily."""

from __future__ import annotations

import importlib

import click

SUBCOMMANDS = {
    "admin": ("server.cli.admin", "admin", "Users and roles of the web app."),
    "generate": ("server.cli.generate", "generate", "Fill a server database with realistic generated data."),
    "demo": ("loyalty.cli", "demo", "Run the whole chain: broker, server and simulated tills."),
    "broker": ("sync.cli", "broker", "Run the embedded demo broker, or write Mosquitto configuration."),
    "office": ("server.cli.office", "office", "Head office's archive of tickets (Parquet by month) and SQL over it."),
    "server": ("server.cli.server", "server", "Run head office: ingest tickets over MQTT; stats and jobs."),
    "till": ("terminal.cli", "till", "Sell at a till, simulate sales, sync the outbox."),
    "rules": ("loyalty.rules_cli", "rules", "Validate, publish and explain the programme's rules."),
    "card": ("cardreader.cli", "card", "Read, personalise and emulate loyalty cards (PC/SC)."),
    "catalogue": ("loyalty.catalogue_cli", "catalogue", "Import the article catalogue and push it to the tills."),
}


class LazyGroup(click.Group):
    """Imports a subcommand's module only when that subcommand runs, so `loyalty --help` is fast."""

    def list_commands(self, ctx):
        return sorted(SUBCOMMANDS)

    def get_command(self, ctx, name):
        if name not in SUBCOMMANDS:
            return None
        module, attr, _ = SUBCOMMANDS[name]
        return getattr(importlib.import_module(module), attr)

    def format_commands(self, ctx, formatter):
        rows = [(name, SUBCOMMANDS[name][2]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--log-level",
    default="WARNING",
    show_default=True,
    envvar="LOYALTY_LOG_LEVEL",
    help="Log level of the services' one-line JSON events (DEBUG, INFO, WARNING).",
)
@click.version_option(package_name="loyalty-engine")
def main(log_level: str) -> None:
    """Loyalty programme engine: points at the till, every ticket to head office over MQTT.

    Start with `loyalty demo`, which runs the whole chain on embedded defaults.
    """
    from sync.events import configure_logging

    configure_logging(log_level)


@click.command()
@click.option("--tickets", default=1000, show_default=True, type=click.IntRange(min=1), help="Tickets to sell.")
@click.option("--tills", default=3, show_default=True, type=click.IntRange(1, 99), help="Simulated tills.")
@click.option("--broker", help="Use this broker (mqtt://HOST:PORT) instead of starting the embedded one.")
@click.option(
    "--dir",
    "workdir",
    type=click.Path(file_okay=False),
    help="Where the databases go (default: a new temporary folder, printed in the summary).",
)
def demo(tickets: int, tills: int, broker: str | None, workdir: str | None) -> None:
    """Run the whole chain: broker, server, K tills selling N tickets; JSON summary on the last line."""
    import json

    from rich.progress import Progress

    from sync.errors import SyncError

    from .demo import run_demo

    try:
        with Progress(transient=True) as progress:
            task = progress.add_task(f"selling on {tills} tills", total=tickets)
            summary = run_demo(tickets, tills, broker, workdir, on_sale=lambda: progress.advance(task))
    except SyncError as exc:
        raise click.ClickException(str(exc)) from None
    except KeyboardInterrupt:
        raise click.Abort() from None
    click.echo(json.dumps(summary))
