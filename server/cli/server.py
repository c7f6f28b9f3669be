"""`loyalty server`: run ingest; stats and jobs over the server's database."""

from __future__ import annotations

import json
import signal
import threading

import click

from server.cli import aggregate as aggregate_commands
from server.cli import closures as closures_commands
from server.cli import keys as keys_commands
from server.cli import next_offer as next_offer_commands
from server.cli.db_option import db_option, clear_errors


@click.group(invoke_without_command=True)
@db_option(
    required=False,
    exists=False,
    help="The server's database: a SQLite file, or postgresql://USER@HOST:PORT/DBNAME (ingest, the desk).",
)
@click.option("--broker", envvar="LOYALTY_BROKER", help="Broker address: mqtt://HOST:PORT.")
@click.option(
    "--web-port",
    type=click.IntRange(0, 65535),
    envvar="LOYALTY_WEB_PORT",
    help="Also serve the desk web app on 127.0.0.1:PORT (see `loyalty server web`).",
)
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    envvar="LOYALTY_WORKERS",
    help="Ingest processes sharing the tickets through an MQTT shared subscription.",
)
@click.option("--worker-index", type=int, hidden=True)
@click.option(
    "--require-registered-tills/--allow-unregistered-tills",
    "require_registered",
    default=True,
    show_default=True,
    envvar="LOYALTY_REQUIRE_REGISTERED_TILLS",
    help="Quarantine the tickets of tills whose key is not registered (`loyalty server register-till`). "
    "Allowing them lets anyone on the broker credit any card: for demos only.",
)
@click.pass_context
def server(
    ctx: click.Context,
    db: str | None,
    broker: str | None,
    web_port: int | None,
    workers: int,
    worker_index: int | None,
    require_registered: bool,
) -> None:
    """Run head office ingest until Ctrl-C: store every till's tickets and ack them.

    With a subcommand, run that instead (stats, ...). Exits non-zero when ingest stops on an error it
    cannot get past (a supervisor restarts it).
    """
    if ctx.invoked_subcommand is not None:
        return
    if not db or not broker:
        raise click.UsageError("give --db and --broker (or LOYALTY_DB and LOYALTY_BROKER) to run the server")
    from server.storage.connection import redacted

    _check_database(db)
    url = _broker_url(broker)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    running = _Ingest(db, url, workers, worker_index, require_registered, stop)
    if worker_index is None and workers > 1:
        running.children = _start_workers(db, broker, workers, require_registered)
    click.echo(f"server ingesting from {url} into {redacted(db)} with {workers} worker(s) (Ctrl-C to stop)", err=True)
    web = None
    if web_port is not None:
        from server.web.serve import make_server, run_in_thread

        web = make_server(db, port=web_port, broker=broker)
        run_in_thread(web)
        click.echo(f"desk web app on http://127.0.0.1:{web.effective_port}/", err=True)
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        if web is not None:
            web.close()
        running.stop()
    if running.ingestor.error is not None:
        raise click.ClickException(
            f"ingest stopped: {type(running.ingestor.error).__name__}: {running.ingestor.error}; "
            "nothing was acked that is not stored: fix the cause and start the server again"
        )


def _check_database(db: str) -> None:
    """A PostgreSQL database is opened once now, to fail with the reason rather than in the ingest thread."""
    from server.errors import StoreError
    from server.ingest.store_api import open_store
    from server.storage.connection import is_postgres

    if is_postgres(db):
        try:
            open_store(db).close()
        except StoreError as exc:
            raise click.ClickException(str(exc)) from None


def _broker_url(broker: str):
    from sync.broker_url import parse_broker_url
    from sync.errors import SyncError

    try:
        return parse_broker_url(broker)
    except SyncError as exc:
        raise click.BadParameter(str(exc), param_hint="--broker") from None


class _Ingest:
    """This process's ingest; in the first process also the tills' status reports, requests and events (one
    subscriber each) and the other workers' processes. `stop` is set when ingest dies."""

    def __init__(self, db: str, url, workers: int, worker_index: int | None, require_registered: bool, stop):
        from server.ingest.receive import Ingestor
        from server.ingest.till_events import EventIngestor  # voids, reprints...: first process
        from server.ingest.uplink import Uplink

        index = worker_index or 0
        shared = workers > 1 or worker_index is not None
        self.ingestor = Ingestor(
            db,
            url,
            client_id="loyalty-server-ingest" + (f"-{index}" if shared else ""),
            shared_group="ingest" if shared else None,
            require_registered=require_registered,
            on_death=lambda exc: stop.set(),
        ).start()
        first = worker_index is None
        self.uplink = Uplink(db, url).start() if first else None
        self.till_events = EventIngestor(db, url).start() if first else None
        self.children: list = []

    def stop(self) -> None:
        for child in self.children:
            child.terminate()
        self.ingestor.stop()
        if self.uplink is not None:
            self.uplink.stop()
        if self.till_events is not None:
            self.till_events.stop()
        for child in self.children:
            child.wait(10)


def _start_workers(db: str, broker: str, workers: int, require_registered: bool) -> list:
    """The other ingest workers, each `loyalty server --worker-index N` in its own process."""
    import subprocess
    import sys

    registration = "--require-registered-tills" if require_registered else "--allow-unregistered-tills"
    return [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "loyalty",
                "server",
                "--db",
                db,
                "--broker",
                broker,
                "--workers",
                str(workers),
                "--worker-index",
                str(n),
                registration,
            ]
        )
        for n in range(1, workers)
    ]


@clear_errors()
def _open(db: str):
    """A connection with sqlite3's API to a SQLite file or a postgresql:// URL; a clear error when it cannot."""
    from server.storage.connection import open_connection

    return open_connection(db)


@server.command()
@db_option()
@click.option(
    "--as-of",
    "as_of",
    required=True,
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="The day of the run (YYYY-MM-DD): the rules in force then decide.",
)
def cheques(db: str, as_of) -> None:
    """Issue loyalty cheques on a schedule (rules with [cheques] issue = "schedule"); idempotent per day."""
    from server.desk.cheques import run_cheques
    from server.desk.rules_versions import rules_in_force

    conn = _open(db)
    try:
        click.echo(json.dumps(run_cheques(conn, rules_in_force(conn, as_of.date()), as_of.date())))
    finally:
        conn.close()


@server.command()
@db_option()
@click.option(
    "--as-of",
    "as_of",
    required=True,
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Expire every lot whose expiry date is on or before this day (YYYY-MM-DD).",
)
def expire(db: str, as_of) -> None:
    """Expire points past their date (the rules' [expiry]); idempotent; counts as JSON."""
    from rich.progress import Progress

    from server.desk.expiry import run_expiry
    from server.desk.rules_versions import rules_in_force

    conn = _open(db)
    try:
        rules = rules_in_force(conn, as_of.date())
        cards = conn.execute("SELECT count(DISTINCT card) FROM ledger").fetchone()[0]
        with Progress(transient=True) as progress:
            task = progress.add_task("expiring points", total=cards)
            summary = run_expiry(conn, rules, as_of.date(), lambda n: progress.advance(task, n))
        click.echo(json.dumps(summary))
    finally:
        conn.close()


@server.command()
@db_option()
@clear_errors()
def stats(db: str) -> None:
    """Print JSON: tickets, lines, points, dead letters, and per terminal its sequence, gaps, last seen."""
    from server.ingest.store_api import open_store

    store = open_store(db)
    try:
        click.echo(json.dumps(store.stats(), indent=2))
    finally:
        store.close()


@server.command("backup")
@db_option(sqlite_only=True)
@click.argument("dest", type=click.Path(dir_okay=False))
@clear_errors()
def backup_command(db: str, dest: str) -> None:
    """Copy the database to DEST while the server runs (SQLite online backup), then check it."""
    from rich.progress import Progress

    from server.storage.backup import backup

    with Progress(transient=True) as progress:
        task = progress.add_task("backing up", total=None)
        result = backup(db, dest, lambda done, total: progress.update(task, completed=done, total=total))
    click.echo(json.dumps(result))


@server.command("restore")
@db_option(exists=False, sqlite_only=True, help="Where to put the database back (a SQLite file).")
@click.argument("backup_file", type=click.Path(dir_okay=False, exists=True))
@clear_errors()
def restore_command(db: str, backup_file: str) -> None:
    """Put BACKUP_FILE back as the server's database (the server stopped, the old file moved aside)."""
    from server.storage.backup import restore

    click.echo(json.dumps(restore(backup_file, db)))


@server.command()
@db_option(exists=False)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535), help="Port to listen on.")
@click.option("--broker", envvar="LOYALTY_BROKER", help="Push hot-list changes to this broker (mqtt://HOST:PORT).")
@click.option(
    "--instance",
    type=click.Path(file_okay=False),
    envvar="LOYALTY_INSTANCE_PATH",
    help="Instance folder: loyalty.cfg and the generated secret key.",
)
@clear_errors()
def web(db: str, host: str, port: int, broker: str | None, instance: str | None) -> None:
    """Serve the welcome desk web app and /api/v1 with waitress until Ctrl-C."""
    from server.web.serve import make_server

    srv = make_server(db, host, port, broker, instance)
    click.echo(f"desk web app on http://{host}:{srv.effective_port}/ (Ctrl-C to stop)", err=True)
    signal.signal(signal.SIGTERM, lambda *_: srv.close())
    try:
        srv.run()
    except KeyboardInterrupt:
        pass
    finally:
        srv.close()


@server.command()
@db_option()
@click.option(
    "--years",
    default=3,
    show_default=True,
    type=click.IntRange(min=1),
    help="Anonymise customers with no activity for this many years.",
)
@click.option("--dry-run", is_flag=True, help="Only report what would be anonymised.")
def retention(db: str, years: int, dry_run: bool) -> None:
    """GDPR retention: anonymise customers with no activity for YEARS; print JSON of what was (or would be) done."""
    from server.cli.db_option import open_desk
    from server.desk.gdpr import retention as run

    conn = open_desk(db)
    try:
        due = run(conn, dry_run=dry_run, years=years)
    finally:
        conn.close()
    click.echo(json.dumps({"dry_run": dry_run, "years": years, "customers": due}, indent=2))


@server.command("register-till")
@db_option(exists=False)
@click.option("--terminal", required=True, help="Till id, e.g. S001-T01.")
@click.option("--public-key", required=True, help="The base64 public key printed by `loyalty till provision`.")
def register_till(db: str, terminal: str, public_key: str) -> None:
    """Register a till's public key: its tickets are then verified, and quarantined when a signature fails."""
    from datetime import datetime, timezone

    from programme.errors import ProgrammeError
    from programme.ticket import store_of

    from server.errors import StoreError
    from server.ingest.store_api import open_store

    try:
        store_of(terminal)
        store = open_store(db)
        store.register_till(terminal, public_key, datetime.now(timezone.utc).isoformat())
    except (ProgrammeError, StoreError) as exc:
        raise click.ClickException(str(exc)) from None
    store.close()
    click.echo(json.dumps({"terminal": terminal, "registered": True}))


@server.command()
@db_option()
@clear_errors()
def requeue(db: str) -> None:
    """Ingest the quarantined tickets again (after `register-till`): those that pass now are stored."""
    from datetime import datetime, timezone

    from server.ingest.store_api import open_store

    store = open_store(db, require_registered=True)
    try:
        click.echo(json.dumps(store.requeue(datetime.now(timezone.utc).isoformat())))
    finally:
        store.close()


@server.command("release-held")
@db_option()
@click.option("--ticket", "tickets", multiple=True, required=True, help="A held ticket's id; repeat for more.")
@click.option("--by", required=True, help="Who checked these tickets and decided to credit them (kept).")
def release_held(db: str, tickets: tuple[str, ...], by: str) -> None:
    """Credit held points as the till sent them, after checking the tickets by other means.

    Ingest holds a ticket's earn points when it cannot recompute them (an unknown rules version); it
    credits them itself once the version is recorded. Use this only when that version is lost."""
    from datetime import datetime, timezone

    from server.storage.desk_db import transaction
    from server.ingest.held import release

    conn = _open(db)
    try:
        with transaction(conn):
            released = release(conn, list(tickets), datetime.now(timezone.utc).isoformat(), by)
    finally:
        conn.close()
    click.echo(json.dumps({"released": released, "asked": len(tickets)}))


# The subcommands kept in modules of their own: each module lists its COMMANDS (as terminal.cli's do).
for _command in (
    *aggregate_commands.COMMANDS,
    *closures_commands.COMMANDS,
    *keys_commands.COMMANDS,
    *next_offer_commands.COMMANDS,
):
    server.add_command(_command)
