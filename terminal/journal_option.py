"""The till journal a command works on, opened with its errors shown as click's usage errors."""

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
