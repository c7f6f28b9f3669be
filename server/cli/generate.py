"""`loyalty generate`: fill a server database with realistic generated data, so the pages can be tried at scale."""

from __future__ import annotations

import json
import time

import click

from server.cli.db_option import db_option, clear_errors


@click.command()
@db_option(exists=False, help="The server database to create or fill (a SQLite file).")
@click.option("--customers", default=10_000, show_default=True, type=click.IntRange(min=0), help="Loyalty cards.")
@click.option("--tickets", default=100_000, show_default=True, type=click.IntRange(min=1), help="Tickets over a year.")
@click.option("--stores", default=10, show_default=True, type=click.IntRange(1, 9999), help="Stores (6 tills each).")
@click.option("--seed", default=0, show_default=True, type=int, help="The same seed gives the same data.")
@click.option(
    "--end", type=click.DateTime(formats=["%Y-%m-%d"]), help="Last day of the year of sales (default: yesterday, UTC)."
)
@click.option(
    "--hidden-tastes",
    is_flag=True,
    help="Give customers traits their tickets show but nothing names (a favourite category, a taste for "
    "promotions, drifting away), for checking the next best offer (docs/headoffice.md).",
)
@clear_errors()
def generate(db: str, customers: int, tickets: int, stores: int, seed: int, end, hidden_tastes: bool) -> None:
    """Fill a server database with a year of realistic tickets (skewed spending, stores, weekly and
    daily peaks, seasonal months, categories), customers and cards, then build the aggregates.
    Prints JSON counts and the speed."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from server.analytics.aggregate import refresh
    from server.analytics.generate import Plan
    from server.analytics.generate import generate as run
    from server.analytics.generate import refuse_postgres
    from server.storage.desk_db import open_db
    from server.errors import ServerError

    refuse_postgres(db)
    conn = open_db(db)
    conn.execute("PRAGMA synchronous=OFF")  # generated data: a crash means generating again
    started = time.perf_counter()
    try:
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            transient=True,
        ) as progress:
            task = progress.add_task("generating tickets", total=tickets, rate="")

            def advance(done: int) -> None:
                rate = done / max(time.perf_counter() - started, 1e-9)
                progress.update(task, completed=done, rate=f"{rate:,.0f} tickets/s")

            summary = run(
                conn, Plan(customers, tickets, stores, seed, end.date() if end else None, hidden_tastes), advance
            )
            generated = time.perf_counter() - started
            agg = progress.add_task("aggregating", total=tickets, rate="")
            refresh(conn, lambda done: progress.update(agg, completed=done))
    except ServerError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        conn.close()
    summary["seconds"] = round(time.perf_counter() - started, 1)
    summary["tickets_per_second"] = round(summary["tickets"] / generated)
    click.echo(json.dumps(summary))
