"""The one --db of head office's commands: a SQLite file or a postgresql:// URL, `LOYALTY_DB` when not given,
checked the same way everywhere; and the one way their errors reach the operator."""

from __future__ import annotations

import functools

import click

from server.errors import ServerError
from server.storage.connection import is_postgres, redacted

DB_HELP = "The server's database: a SQLite file, or postgresql://USER@HOST:PORT/DBNAME."
SQLITE_DB_HELP = "The server's database (a SQLite file)."


class DbTarget(click.ParamType):
    """A postgresql:// (or postgres://) URL as given; anything else is a SQLite file path (that must exist
    when `exists`). `sqlite_only`: a URL is refused, saying so, for the commands that work on a file."""

    name = "FILE|URL"

    def __init__(self, exists: bool = False, sqlite_only: bool = False):
        self.path = click.Path(dir_okay=False, exists=exists)
        self.sqlite_only = sqlite_only
        if sqlite_only:
            self.name = "FILE"

    def convert(self, value, param, ctx):
        if is_postgres(value):
            if self.sqlite_only:
                command = ctx.command_path if ctx else "this command"
                self.fail(
                    f"{redacted(str(value))} is a PostgreSQL database; `{command}` works on a SQLite file "
                    "only (on PostgreSQL, use its own tools: pg_dump, pg_restore)",
                    param,
                    ctx,
                )
            return str(value)
        return self.path.convert(value, param, ctx)


def db_option(*, exists: bool = True, required: bool = True, sqlite_only: bool = False, help: str | None = None):
    """`--db` for a server command (envvar LOYALTY_DB). `exists`: a SQLite file must already be there."""
    return click.option(
        "--db",
        required=required,
        envvar="LOYALTY_DB",
        show_envvar=True,
        type=DbTarget(exists=exists, sqlite_only=sqlite_only),
        help=help or (SQLITE_DB_HELP if sqlite_only else DB_HELP),
    )


def clear_errors(*errors: type[BaseException]):
    """A command whose ServerError (or one of `errors`) ends it with the error's message and exit 1, not a
    traceback: the one place that turns the library's errors into click's."""
    caught = errors or (ServerError,)

    def decorate(command):
        @functools.wraps(command)
        def run(*args, **kwargs):
            try:
                return command(*args, **kwargs)
            except caught as exc:
                raise click.ClickException(str(exc)) from None

        return run

    return decorate


def open_desk(db: str):
    """server.storage.desk_db.open_db for a command: a database that cannot be opened is a clear error."""
    from server.storage.desk_db import open_db

    return clear_errors()(open_db)(db)
