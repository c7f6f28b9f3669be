"""`loyalty admin`: users and API tokens of the desk web app."""

from __future__ import annotations

import click

from server.cli.db_option import open_desk, db_option


@click.group()
def admin() -> None:
    """Users, roles and API tokens of the web app (roles: card_manager, head_office, admin, till)."""


@admin.command("create-user")
@click.argument("name")
@click.option(
    "--role",
    required=True,
    type=click.Choice(["card_manager", "head_office", "admin", "till"]),
    help="What the user may do.",
)
@db_option(exists=False)
def create_user(name: str, role: str, db: str) -> None:
    """Create user NAME and print a first password (shown once)."""
    from server.desk.accounts import create_user as create
    from server.desk.errors import DeskError

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
@db_option(exists=False)
def create_token(name: str, db: str) -> None:
    """Print a new API token for user NAME (for /api/v1; shown once, only its hash is kept)."""
    from server.desk.accounts import create_token as create
    from server.desk.errors import DeskError

    conn = open_desk(db)
    try:
        token = create(conn, name)
    except DeskError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        conn.close()
    click.echo(token)


@admin.command("users")
@db_option()
def users(db: str) -> None:
    """List the users and their roles."""
    from server.desk.accounts import list_users

    conn = open_desk(db)
    try:
        for user in list_users(conn):
            click.echo(f"{user['name']}\t{user['role']}\t{user['created_at']}")
    finally:
        conn.close()


def _run(db: str, action):
    """Open the desk, run one accounts action, turn a refusal into the CLI's error line."""
    from server.desk.errors import DeskError

    conn = open_desk(db)
    try:
        return action(conn)
    except DeskError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        conn.close()


@admin.command("disable-user")
@click.argument("name")
@db_option()
def disable_user(name: str, db: str) -> None:
    """Disable user NAME: no more log-in nor API token; their sessions end (kept for the audit trail)."""
    from server.desk.accounts import disable_user as disable

    _run(db, lambda conn: disable(conn, name))
    click.echo(f"user {name} disabled; their sessions ended")


@admin.command("reset-password")
@click.argument("name")
@db_option()
def reset_password(name: str, db: str) -> None:
    """Give user NAME a new password (printed once); their sessions end."""
    from server.desk.accounts import reset_password as reset

    password = _run(db, lambda conn: reset(conn, name))
    click.echo(f"new password for {name} (shown once): {password}")


@admin.command("revoke-tokens")
@click.argument("name")
@db_option()
def revoke_tokens(name: str, db: str) -> None:
    """Revoke every API token of user NAME (a till or script using one gets 401 until given a new one)."""
    from server.desk.accounts import revoke_tokens as revoke

    count = _run(db, lambda conn: revoke(conn, name))
    click.echo(f"{count} API token(s) of {name} revoked")


@admin.command("unlock")
@click.argument("name")
@db_option()
def unlock(name: str, db: str) -> None:
    """Let user NAME log in again at once from every address held back by failed log-ins."""
    from server.desk.accounts import unlock as forget

    count = _run(db, lambda conn: forget(conn, name))
    click.echo(f"log-in of {name} unlocked ({count} address{'' if count == 1 else 'es'})")
