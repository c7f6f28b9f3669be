"""`loyalty office`: head office's archive of historised tickets (Parquet by month) and questions over it (DuckDB)."""

from __future__ import annotations

import json

import click

from server.cli.db_option import db_option, clear_errors

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
@db_option()
@click.option("--archive", type=click.Path(file_okay=False), help=ARCHIVE_HELP)
@clear_errors()
def export(db: str, archive: str | None) -> None:
    """Copy the tickets, lines and ledger entries the archive does not hold yet (incremental; a run that
    stopped midway is finished by the next one, never duplicated); prints JSON counts."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from server.analytics.archive import export as run
    from server.storage.connection import open_connection
    from server.errors import ServerError

    target = _archive_of(db, archive)
    conn = open_connection(db)
    try:
        with Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), transient=True
        ) as progress:
            task = progress.add_task("archiving tickets", total=None)
            result = run(conn, target, lambda done, total: progress.update(task, completed=done, total=total))
    except ServerError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        conn.close()
    click.echo(json.dumps(result))


@office.command()
@db_option(help="The server's database: which cards belong to one desk customer, and the archive beside it.")
@click.option("--archive", help=ARCHIVE_HELP + " With --engine spark, any path Spark reads (s3a://BUCKET/archive).")
@click.option(
    "--engine",
    "engine_name",
    type=click.Choice(["duckdb", "spark"]),
    default="duckdb",
    show_default=True,
    help="What computes the figures: DuckDB here, or Spark (local mode unless LOYALTY_SPARK_MASTER names a cluster).",
)
@click.option("--start", type=click.DateTime(["%Y-%m-%d"]), help="First day (default: a year before --end).")
@click.option(
    "--end", type=click.DateTime(["%Y-%m-%d"]), help="Last day (default: the archive's last day with a ticket)."
)
@clear_errors()
def figures(db: str, archive: str | None, engine_name: str, start, end) -> None:
    """Print as JSON the value dashboard's figures over the archive (customers, spend, margin, deciles, Pareto,
    value ranks, RFM and lifetime value of the best customers, retention, identification by store, points
    issued, redeemed, expired and outstanding), computed by DuckDB or Spark from one definition."""
    import time

    from server.analytics.figures import office_figures
    from server.analytics.value import card_owners
    from server.storage.connection import open_connection
    from datetime import datetime, timedelta, timezone

    from server.desk.cheque_book import outstanding_cents

    target = _archive_of(db, archive)
    conn = open_connection(db)
    try:
        owners = card_owners(conn)
        # the cheques in circulation are in the cheque book, not the archive: as of the period's end (or now)
        cheques = outstanding_cents(
            conn, end.replace(tzinfo=timezone.utc) + timedelta(days=1) if end else datetime.now(timezone.utc)
        )
    finally:
        conn.close()
    started = time.perf_counter()
    body = office_figures(
        engine_name, target, owners, start and start.date(), end and end.date(), cheques_cents=cheques
    )
    body = {"engine": engine_name, "seconds": round(time.perf_counter() - started, 3), **body}
    click.echo(json.dumps(body))


@office.command()
@db_option(required=False, exists=False, help="The server's database, to find its archive beside it.")
@click.option("--archive", type=click.Path(file_okay=False, exists=True), help=ARCHIVE_HELP)
@click.option(
    "--json", "as_json", is_flag=True, help="Print a JSON list of rows (objects by column) instead of a table."
)
@click.option(
    "--limit", default=1000, show_default=True, type=click.IntRange(min=1), help="Show at most this many rows."
)
@click.argument("query")
@clear_errors()
def sql(db: str | None, archive: str | None, as_json: bool, limit: int, query: str) -> None:
    """Answer one read-only QUERY (SELECT, WITH ... SELECT) over the archive's tables `tickets`, `lines` and
    `ledger` with DuckDB; any other statement is refused."""
    from server.analytics.archive_db import ask

    answer = ask(_archive_of(db, archive), query, limit)
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
