"""The till journal, terminal and broker a command works on, with their errors shown as click's usage errors."""

from __future__ import annotations

import click


def open_journal(db: str, terminal: str, key: str | None = None):
    """The Journal at `db` for `terminal` (signing with the key file `key`); a bad key or terminal is a usage error."""
    from programme.errors import ProgrammeError

    from .errors import TillError
    from .journal import Journal
    from .keys import load_key

    try:
        signing_key = load_key(key) if key else None
    except TillError as exc:
        raise click.BadParameter(str(exc), param_hint="--key") from None
    try:
        return Journal(db, terminal, signing_key)
    except ProgrammeError as exc:
        raise click.BadParameter(str(exc), param_hint="--terminal") from None


def parsed_terminal_and_broker(terminal: str, broker: str | None):
    """The --terminal and --broker of a till command, checked: a bad one is a usage error naming the option.
    Returns the broker's BrokerUrl, or None to run offline."""
    from programme.ticket import store_of

    try:
        store_of(terminal)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--terminal") from None
    if not broker:
        return None
    from sync.broker_url import parse_broker_url
    from sync.errors import SyncError

    try:
        return parse_broker_url(broker)
    except SyncError as exc:
        raise click.BadParameter(str(exc), param_hint="--broker") from None
