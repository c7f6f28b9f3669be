"""The head-office figures as a Spark application, for a cluster (docs/scaling.md):

    spark-submit --master yarn --deploy-mode client server/analytics/spark_job.py \
        --db postgresql://loyalty@db/loyalty --archive s3a://chain-archive/office.archive [--start D] [--end D]

prints the value dashboard's figures as JSON, as `loyalty office figures --engine spark` does (the same
library call: server.analytics.figures.office_figures); the card -> customer map comes from the server
database, read by the driver. Under spark-submit the session is the one spark-submit configured.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date


def main(argv: list[str] | None = None) -> int:
    from server.storage.connection import open_connection
    from ..errors import ServerError
    from .figures import office_figures
    from .value import card_owners

    parser = argparse.ArgumentParser(prog="spark_job", description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="the server's database (the desk's cards: card -> customer)")
    parser.add_argument("--archive", required=True, help="the archive: a folder, or s3a://BUCKET/PATH")
    parser.add_argument("--start", type=date.fromisoformat, help="first day, YYYY-MM-DD (default: a year before)")
    parser.add_argument("--end", type=date.fromisoformat, help="last day, YYYY-MM-DD (default: the last ticket's)")
    args = parser.parse_args(argv)
    try:
        conn = open_connection(args.db)
        try:
            owners = card_owners(conn)
        finally:
            conn.close()
        body = office_figures("spark", args.archive, owners, args.start, args.end)
    except ServerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps({"engine": "spark", **body}))
    return 0


if __name__ == "__main__":
    if __package__ in (None, ""):  # run as a file by spark-submit: import it from the installed package
        from server.analytics.spark_job import main as installed_main

        sys.exit(installed_main())
    sys.exit(main())
