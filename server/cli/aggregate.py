"""`loyalty server aggregate`: fold new tickets into the head-office aggregates (a job; also safe at ingest)."""
from __future__ import annotations

import json

import click


def database(ctx, param, value: str) -> str:
    """A SQLite file that exists, or a postgresql:// URL (as `loyalty server --db` takes)."""
    from server.storage.connection import is_postgres

    if is_postgres(value):
        return value
    return click.Path(dir_okay=False, exists=True).convert(value, param, ctx)


@click.command()
@click.option("--db", required=True, envvar="LOYALTY_DB", callback=database,
              help="The server's database: a SQLite file, or a postgresql:// URL.")
@click.option("--dashboard", is_flag=True,
              help="Also recompute the value dashboard's figures for its default period (the year to the last "
                   "day with sales), so the first person to open the page does not wait.")
def aggregate(db: str, dashboard: bool) -> None:
    """Fold tickets stored since the last run into card_day, store_day and card_category (incremental,
    idempotent: run it as often as you like); prints JSON counts."""
    from rich.progress import Progress

    from server.analytics.aggregate import pending, refresh
    from server.storage.connection import open_connection
    from server.errors import StoreError

    try:
        conn = open_connection(db)
    except StoreError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        todo = pending(conn)
        with Progress(transient=True) as progress:
            task = progress.add_task("aggregating tickets", total=todo)
            result = refresh(conn, lambda done: progress.update(task, completed=done))
            if dashboard:
                from server.analytics.dashboard import dashboard as figures
                from server.analytics.dashboard import default_period

                progress.add_task("dashboard figures", total=None)
                start, end = default_period(conn)
                figures(conn, start, end)
                result["dashboard"] = {"start": start.isoformat(), "end": end.isoformat()}
    finally:
        conn.close()
    click.echo(json.dumps(result))
