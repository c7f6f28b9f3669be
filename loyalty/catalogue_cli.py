"""`loyalty catalogue`: import the ERP's article file at head office and push it to the tills."""

from __future__ import annotations

import json
from pathlib import Path

import click

from server.cli.db_option import DB_HELP, DbTarget

BROKER_HELP = "Broker address: mqtt://HOST:PORT (the tills' broker, or head office's bridged one)."
KEY_HELP = "Head office's signing key (made by `loyalty server keys`; default ~/.config/loyalty/head-office.key)."


@click.group()
def catalogue() -> None:
    """Import the article catalogue (the ERP's CSV) and push it to the tills (see docs/catalogue.md)."""


def _store(db: str):
    from server.errors import StoreError
    from server.ingest.store_api import open_store

    try:
        return open_store(db)
    except StoreError as exc:
        raise click.ClickException(str(exc)) from None


def _pusher(broker: str, signing_key: str | None):
    """push(topic, payload): sign as a catalogue message and publish retained; checked before anything is
    recorded, so a missing key or a bad address changes nothing."""
    from sync.broker_url import parse_broker_url
    from sync.errors import SyncError
    from sync.retained import publish_signed
    from sync.signed import Signer

    try:
        signer = Signer.load(signing_key)
    except SyncError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        url = parse_broker_url(broker)
    except SyncError as exc:
        raise click.BadParameter(str(exc), param_hint="--broker") from None

    def push(topic: str, payload: bytes) -> None:
        publish_signed(
            url,
            topic,
            "catalogue",
            payload,
            "loyalty-catalogue-publisher",
            f"the catalogue on {topic}",
            signer,
            then="push it again with `loyalty catalogue publish`",
        )

    return push


def _push_all(recorded, push) -> None:
    from server.desk.catalogue import publish
    from sync.errors import SyncError

    try:
        publish(recorded, push)
    except SyncError as exc:
        raise click.ClickException(str(exc)) from None


@catalogue.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--db", required=True, type=DbTarget(), help=DB_HELP)
@click.option(
    "--store",
    help="The file is this store's catalogue (S001); by default each row's store column "
    "decides, and rows without one are every store's.",
)
@click.option("--broker", required=True, envvar="LOYALTY_BROKER", help=BROKER_HELP)
@click.option("--signing-key", type=click.Path(dir_okay=False), envvar="LOYALTY_SIGNING_KEY", help=KEY_HELP)
def import_(file: str, db: str, store: str | None, broker: str, signing_key: str | None) -> None:
    """Check the ERP's CSV, record it as the next catalogue version of each store it fills, and push it to the
    tills retained, signed by head office. A bad line refuses the whole file: nothing changes."""
    from programme.catalogue import MAX_CSV_BYTES, STORE_ID, CatalogueError
    from programme.ticket import utc_now
    from server.desk.catalogue import import_csv
    from sync.safe_files import UnsafeFileError, read_regular

    if store is not None and not STORE_ID.match(store):
        raise click.BadParameter(f"{store!r} is not a store id: write it like S001", param_hint="--store")
    try:
        text = read_regular(
            file,
            MAX_CSV_BYTES,
            "a catalogue file",
            "give the ERP's CSV export (docs/catalogue.md)",
            "split the file by store (--store)",
        ).decode("utf-8")
    except UnicodeDecodeError:
        raise click.ClickException(f"{Path(file).name} is not UTF-8 text: export the CSV as UTF-8") from None
    except UnsafeFileError as exc:
        raise click.ClickException(str(exc)) from None
    push = _pusher(broker, signing_key)
    target = _store(db)
    try:
        recorded = import_csv(target.conn, text, Path(file).name, utc_now().isoformat(), store)
    except CatalogueError as exc:
        raise click.ClickException(f"{Path(file).name} refused, nothing changed:\n{exc}") from None
    finally:
        target.close()
    _push_all(recorded, push)
    click.echo(
        json.dumps(
            {
                "file": Path(file).name,
                "versions": [
                    {"scope": r.scope, "version": r.version.version, "articles": len(r.version.articles)}
                    for r in recorded
                ],
            }
        )
    )


@catalogue.command()
@click.option("--db", required=True, type=DbTarget(exists=True), help=DB_HELP)
@click.option("--broker", required=True, envvar="LOYALTY_BROKER", help=BROKER_HELP)
@click.option("--signing-key", type=click.Path(dir_okay=False), envvar="LOYALTY_SIGNING_KEY", help=KEY_HELP)
def publish(db: str, broker: str, signing_key: str | None) -> None:
    """Push the latest version of every store's catalogue again (after a broker lost its retained messages)."""
    from server.desk.catalogue import latest

    push = _pusher(broker, signing_key)
    target = _store(db)
    try:
        recorded = latest(target.conn)
    finally:
        target.close()
    if not recorded:
        raise click.ClickException("no catalogue imported yet: import one with `loyalty catalogue import FILE.csv`")
    _push_all(recorded, push)
    click.echo(json.dumps({"versions": [{"scope": r.scope, "version": r.version.version} for r in recorded]}))


@catalogue.command("list")
@click.option("--db", required=True, type=DbTarget(exists=True), help=DB_HELP)
def list_(db: str) -> None:
    """Every catalogue version imported, newest first, as JSON lines."""
    from server.desk.catalogue import versions

    target = _store(db)
    try:
        for row in versions(target.conn):
            click.echo(json.dumps(row))
    finally:
        target.close()
