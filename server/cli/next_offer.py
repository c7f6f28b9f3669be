"""`loyalty server next-offers`: the daily next best offer job (stop what does harm, choose, push)."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import click

from server.cli.db_option import db_option


@click.command("next-offers")
@db_option()
@click.option(
    "--broker",
    envvar="LOYALTY_BROKER",
    help="Push the offers to the tills through this broker (mqtt://HOST:PORT); none: choose only.",
)
@click.option(
    "--day", type=click.DateTime(formats=["%Y-%m-%d"]), help="The day the offers start (default: today, UTC)."
)
@click.option(
    "--archive",
    type=click.Path(file_okay=False, exists=True),
    help="Read the customers' year of tickets from this Parquet archive (loyalty office export) with "
    "DuckDB instead of the server's tables: faster on a large chain; tickets not exported yet "
    "are left out.",
)
def next_offers(db: str, broker: str | None, day, archive: str | None) -> None:
    """Stop the offer types whose results stay below their holdout past their minimum run, choose each
    eligible customer's next best offer (docs/headoffice.md), record them as campaigns and push them
    when --broker is given. Prints JSON: what was stopped and why, chosen, held out, campaigns."""
    from sync.broker_url import parse_broker_url
    from sync.errors import SyncError

    from server.analytics import campaigns, next_offer, offer_results
    from server.analytics.aggregate import refresh
    from server.storage.desk_db import open_db
    from server.errors import ServerError, StoreError

    when = day.date() if day else datetime.now(timezone.utc).date()
    try:
        url = parse_broker_url(broker) if broker else None
        conn = open_db(db)  # ticket times read as the same text on both engines
    except (StoreError, SyncError) as exc:
        raise click.ClickException(str(exc)) from None
    try:
        refresh(conn)
        stopped = offer_results.stop_harmful(conn, when)
        done = next_offer.run(conn, when, archive=archive)
        if url is not None:
            done["pushed"] = campaigns.publish(conn, url, when)
    except (ServerError, SyncError) as exc:  # ArchiveError is a ServerError
        raise click.ClickException(str(exc)) from None
    finally:
        conn.close()
    done["stopped"] = [{"offer_type": s["id"], "name": s["name"], "why": s["stopped_why"]} for s in stopped]
    click.echo(json.dumps(done))


COMMANDS = [next_offers]
