"""`loyalty server import-closures / verify-closures`: the tills' closures checked at head office."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import click

from server.cli.db_option import db_option


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


def _report(store, result, terminal: str | None = None) -> dict:
    from server.closures.verify import listing

    return {
        "verified": result.verified,
        "flagged": result.flagged,
        "already": result.already,
        "reasons": result.reasons,
        "closures": listing(store, terminal),
    }


@click.command("import-closures")
@db_option(sqlite_only=True)
@click.argument("archives", nargs=-1, required=True, type=click.Path(dir_okay=False))
def import_closures(db: str, archives: tuple[str, ...]) -> None:
    """Import tills' archives (`loyalty till archive`): check each closure, record it verified or flagged.

    The archive's detached signature must check with the till's registered key, else nothing is
    imported. Exit status 1 when any closure is flagged.
    """
    from server.closures.verify import ClosureImportError, ImportResult, import_archive
    from server.ingest.store import Store

    store = Store(db)
    total = ImportResult()
    try:
        for path in archives:
            result = import_archive(store, path, _now())
            total.verified += result.verified
            total.flagged += result.flagged
            total.already += result.already
            total.reasons += result.reasons
        click.echo(json.dumps(_report(store, total)))
    except ClosureImportError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        store.close()
    if total.flagged:
        raise SystemExit(1)


@click.command("verify-closures")
@db_option(sqlite_only=True)
@click.option("--terminal", help="Only list this till's closures.")
def verify_closures(db: str, terminal: str | None) -> None:
    """Check every flagged closure again (its tickets may have arrived since) and list the closures.

    Exit status 1 when a closure is still flagged.
    """
    from server.closures.verify import verify_again
    from server.ingest.store import Store

    store = Store(db)
    try:
        result = verify_again(store, _now())
        report = _report(store, result, terminal)
    finally:
        store.close()
    click.echo(json.dumps(report))
    if any(c["status"] == "flagged" for c in report["closures"]):
        raise SystemExit(1)


COMMANDS = [import_closures, verify_closures]
