"""`loyalty office`: head office's archive of historised tickets (Parquet by month) and questions over it (DuckDB)."""
from __future__ import annotations

import json

import click

from server.cli.db_option import DB_HELP, DbTarget

ARCHIVE_HELP = "The archive folder (default: beside a SQLite database, DB's name with .archive, e.g. office.archive/)."


@click.group()
def office() -> None:
    """Head office's open archive: tickets, lines and ledger entries as Parquet files by month, and SQL over them."""


def _archive_of(db: str | None, archive: str | None) -> str:
    from server.analytics.archive import default_archive

    if archive:
        return archive
    if not db:
        raise click.UsageError("give --db DB (the archive is beside it) or --archive DIR")
    return str(default_archive(db))


@office.command()
@click.option("--db", required=True, envvar="LOYALTY_DB", type=DbTarget(exists=True), help=DB_HELP)
@click.option("--archive", type=click.Path(file_okay=False), help=ARCHIVE_HELP)
def export(db: str, archive: str | None) -> None:
    """Copy the tickets, lines and ledger entries the archive does not hold yet (incremental; a run that
    stopped midway is finished by the next one, never duplicated); prints JSON counts."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from server.analytics.archive import export as run
    from server.storage.connection import open_connection
    from server.errors import ServerError

    try:
        target = _archive_of(db, archive)
        conn = open_connection(db)
    except ServerError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      transient=True) as progress:
            task = progress.add_task("archiving tickets", total=None)
            result = run(conn, target, lambda done, total: progress.update(task, completed=done, total=total))
    except ServerError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        conn.close()
    click.echo(json.dumps(result))


@office.command()
@click.option("--db", envvar="LOYALTY_DB", type=DbTarget(),
              help="The server's database, to find its archive beside it.")
@click.option("--archive", type=click.Path(file_okay=False, exists=True), help=ARCHIVE_HELP)
@click.option("--json", "as_json", is_flag=True,
              help="Print a JSON list of rows (objects by column) instead of a table.")
@click.option("--limit", default=1000, show_default=True, type=click.IntRange(min=1),
              help="Show at most this many rows.")
@click.argument("query")
def sql(db: str | None, archive: str | None, as_json: bool, limit: int, query: str) -> None:
    """Answer one read-only QUERY (SELECT, WITH ... SELECT) over the archive's tables `tickets`, `lines` and
    `ledger` with DuckDB; any other statement is refused."""
    from server.analytics.archive_db import ask
    from server.errors import ServerError

    try:
        answer = ask(_archive_of(db, archive), query, limit)
    except ServerError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps([dict(zip(answer.columns, row)) for row in answer.rows], default=str))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(*answer.columns)
    for row in answer.rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    Console().print(table)
    click.echo(f"{len(answer.rows)} row(s)" + (f" (the first {limit})" if len(answer.rows) == limit else ""))
