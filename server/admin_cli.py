"""`loyalty admin`: users and API tokens of the desk web app."""
from __future__ import annotations

import click

from .db_option import DB_HELP, DbTarget, open_desk


@click.group()
def admin() -> None:
    """Users, roles and API tokens of the web app (roles: card_manager, head_office, admin, till)."""


@admin.command("create-user")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(["card_manager", "head_office", "admin", "till"]),
              help="What the user may do.")
@click.option("--db", required=True, envvar="LOYALTY_DB", type=DbTarget(), help=DB_HELP)
def create_user(name: str, role: str, db: str) -> None:
    """Create user NAME and print a first password (shown once)."""
    from .accounts import create_user as create
    from .desk_errors import DeskError
    conn = open_desk(db)
    try:
        password = create(conn, name, role)
    except DeskError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        conn.close()
    click.echo(f"user {name} ({role}) created; first password: {password}")


@admin.command("create-token")
@click.argument("name")
@click.option("--db", required=True, envvar="LOYALTY_DB", type=DbTarget(), help=DB_HELP)
def create_token(name: str, db: str) -> None:
    """Print a new API token for user NAME (for /api/v1; shown once, only its hash is kept)."""
    from .accounts import create_token as create
    from .desk_errors import DeskError
    conn = open_desk(db)
    try:
        token = create(conn, name)
    except DeskError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        conn.close()
    click.echo(token)


@admin.command("users")
@click.option("--db", required=True, envvar="LOYALTY_DB", type=DbTarget(exists=True), help=DB_HELP)
def users(db: str) -> None:
    """List the users and their roles."""
    from .accounts import list_users
    conn = open_desk(db)
    try:
        for user in list_users(conn):
            click.echo(f"{user['name']}\t{user['role']}\t{user['created_at']}")
    finally:
        conn.close()
