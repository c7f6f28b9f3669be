"""The --db of the desk's and admin's commands: a SQLite file, or a postgresql:// URL."""
from __future__ import annotations

import click

from server.storage.connection import is_postgres

DB_HELP = "The server's database: a SQLite file, or postgresql://USER@HOST:PORT/DBNAME."


class DbTarget(click.ParamType):
    """A postgresql:// (or postgres://) URL as given; anything else is a SQLite file path (that must exist
    when `exists`)."""

    name = "FILE|URL"

    def __init__(self, exists: bool = False):
        self.path = click.Path(dir_okay=False, exists=exists)

    def convert(self, value, param, ctx):
        if is_postgres(value):
            return str(value)
        return self.path.convert(value, param, ctx)


def open_desk(db: str):
    """server.storage.desk_db.open_db for a command: a database that cannot be opened is a clear error, not a traceback."""
    from server.storage.desk_db import open_db
    from server.errors import StoreError

    try:
        return open_db(db)
    except StoreError as exc:
        raise click.ClickException(str(exc)) from None
