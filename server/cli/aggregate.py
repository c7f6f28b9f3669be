"""`loyalty server aggregate`: fold new tickets into the head-office aggregates (a job; also safe at ingest)."""

from __future__ import annotations

import json

import click

from server.cli.db_option import db_option, clear_errors


@click.command()
@db_option()
@click.option(
    "--dashboard",
    is_flag=True,
    help="Also recompute the value dashboard's figures for its default period (the year to the last "
    "day with sales), so the first person to open the page does not wait.",
)
@clear_errors()
def aggregate(db: str, dashboard: bool) -> None:
    """Fold tickets stored since the last run into card_day, store_day and card_category (incremental,
    idempotent: run it as often as you like); prints JSON counts."""
    from rich.progress import Progress

    from server.analytics.aggregate import pending, refresh
    from server.storage.connection import open_connection

    conn = open_connection(db)
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


COMMANDS = [aggregate]
