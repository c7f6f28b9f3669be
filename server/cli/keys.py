"""`loyalty server keys`: make head office's signing key, with which rules, hot-list and offers are signed."""

from __future__ import annotations

import json

import click


@click.command("keys")
@click.option(
    "--out",
    type=click.Path(dir_okay=False),
    envvar="LOYALTY_SIGNING_KEY",
    help="Where to write the private key (0600; KEY.pub beside it); default "
    "~/.config/loyalty/head-office.key. Keep it outside the repository.",
)
def keys(out: str | None) -> None:
    """Make head office's Ed25519 signing key once; prints the public key every till is provisioned with.

    Give KEY.pub to `loyalty till provision --head-office-key`. An existing key is never replaced.
    """
    from sync.signed import SignatureError, make_key

    try:
        path, pub_path, public = make_key(out)
    except SignatureError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(json.dumps({"key": str(path), "public_key_file": str(pub_path), "public_key": public}))


COMMANDS = [keys]
