"""`loyalty till close-day / close-month / close-year / archive / purge / verify-archive / verify-closures`."""

from __future__ import annotations

import json

import click

from .journal_option import open_journal

DB_HELP = "The till's journal (SQLite file)."
TERMINAL_HELP = "Till id, store then till: S001-T01."
KEY_HELP = "The till's signing key (loyalty till provision); closures are signed with it."


def _key(path: str):
    from .errors import TillError
    from .keys import load_key

    try:
        return load_key(path)
    except TillError as exc:
        raise click.BadParameter(str(exc), param_hint="--key") from None


def _summary(closure) -> dict:
    import msgspec

    summary = {
        "terminal": closure.terminal,
        "kind": closure.kind,
        "period": closure.period,
        "number": closure.number,
        "first_seq": closure.first_seq,
        "last_seq": closure.last_seq,
        "period_totals": _totals(closure.period_totals),
        "grand_totals": _totals(closure.grand_totals),
    }
    if closure.events is not msgspec.UNSET:
        summary["events"] = msgspec.to_builtins(closure.events)
    return summary


def _totals(totals) -> dict:
    import msgspec

    return {**msgspec.to_builtins(totals), "net_cents": totals.net_cents}


def _close(terminal: str, db: str, key: str, period: str) -> None:
    from programme.errors import ProgrammeError

    from .closures import close_period
    from .errors import TillError

    signing_key = _key(key)
    with open_journal(db, terminal) as journal:
        try:
            closure = close_period(journal, period, signing_key)
        except (TillError, ProgrammeError) as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(json.dumps(_summary(closure)))


def _today(kind: str) -> str:
    from programme.closure import period_of
    from programme.ticket import utc_now

    return period_of(utc_now(), kind)


@click.command("close-day")
@click.option("--terminal", required=True, help=TERMINAL_HELP)
@click.option("--db", required=True, type=click.Path(dir_okay=False, exists=True), help=DB_HELP)
@click.option("--key", required=True, type=click.Path(dir_okay=False), envvar="LOYALTY_TILL_KEY", help=KEY_HELP)
@click.option("--date", "day", help="The store's day to close, YYYY-MM-DD (default: today, Paris time).")
def close_day(terminal: str, db: str, key: str, day: str | None) -> None:
    """Close a day: its totals, VAT per rate, events and the till's grand totals, signed and chained."""
    _close(terminal, db, key, day or _today("day"))


@click.command("close-month")
@click.option("--terminal", required=True, help=TERMINAL_HELP)
@click.option("--db", required=True, type=click.Path(dir_okay=False, exists=True), help=DB_HELP)
@click.option("--key", required=True, type=click.Path(dir_okay=False), envvar="LOYALTY_TILL_KEY", help=KEY_HELP)
@click.option("--month", help="The store's month to close, YYYY-MM (default: this month, Paris time).")
def close_month(terminal: str, db: str, key: str, month: str | None) -> None:
    """Close a month: its totals, VAT per rate, events and the till's grand totals, signed and chained."""
    _close(terminal, db, key, month or _today("month"))


@click.command("close-year")
@click.option("--terminal", required=True, help=TERMINAL_HELP)
@click.option("--db", required=True, type=click.Path(dir_okay=False, exists=True), help=DB_HELP)
@click.option("--key", required=True, type=click.Path(dir_okay=False), envvar="LOYALTY_TILL_KEY", help=KEY_HELP)
@click.option("--year", help="The store's year to close, YYYY (default: this year, Paris time).")
def close_year(terminal: str, db: str, key: str, year: str | None) -> None:
    """Close a year: its totals, VAT per rate, events and the till's grand totals, signed and chained."""
    _close(terminal, db, key, year or _today("year"))


@click.command("archive")
@click.option("--terminal", required=True, help=TERMINAL_HELP)
@click.option("--db", required=True, type=click.Path(dir_okay=False, exists=True), help=DB_HELP)
@click.option("--key", required=True, type=click.Path(dir_okay=False), envvar="LOYALTY_TILL_KEY", help=KEY_HELP)
@click.option("--period", required=True, help="A closed day (YYYY-MM-DD), month (YYYY-MM) or year (YYYY).")
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False),
    help="The archive file (JSON Lines); its signature goes beside it as OUT.sig.",
)
def archive_command(terminal: str, db: str, key: str, period: str, out: str) -> None:
    """Export a closed period's closures and tickets: JSON Lines plus a detached Ed25519 signature.

    The archiving is journaled as an event (signed, chained, sent to head office)."""
    from programme.errors import ProgrammeError

    from .closures import export_archive
    from .errors import TillError

    signing_key = _key(key)
    with open_journal(db, terminal) as journal:
        try:
            summary = export_archive(journal, period, signing_key, out)
        except (TillError, ProgrammeError) as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(json.dumps(summary))


@click.command("verify-archive")
@click.argument("archive_file", type=click.Path(dir_okay=False))
@click.option(
    "--public-key",
    help="The till's public key (base64, as registered); default: the one in ARCHIVE.sig, "
    "which proves the file is intact but not whose it is.",
)
def verify_archive(archive_file: str, public_key: str | None) -> None:
    """Check an archive: its SHA-256 and signature (ARCHIVE.sig), tickets, closure chain and totals."""
    from programme.errors import ProgrammeError
    from programme.signing import load_public_key

    from .closures import read_archive
    from .errors import TillError

    try:
        content = read_archive(archive_file, load_public_key(public_key) if public_key else None)
    except (TillError, ProgrammeError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(
        json.dumps(
            {
                "archive": archive_file,
                "ok": True,
                "terminal": content.header.terminal,
                "period": content.header.period,
                "closures": len(content.closures),
                "tickets": len(content.tickets),
                "key": "given" if public_key else "from the signature file",
            }
        )
    )


@click.command("verify-closures")
@click.option("--terminal", required=True, help=TERMINAL_HELP)
@click.option("--db", required=True, type=click.Path(dir_okay=False, exists=True), help=DB_HELP)
@click.option(
    "--key",
    type=click.Path(dir_okay=False),
    envvar="LOYALTY_TILL_KEY",
    help=KEY_HELP + " Given, the signatures are checked too.",
)
def verify_closures(terminal: str, db: str, key: str | None) -> None:
    """Check the journal's closures: chains, totals against its tickets, signatures. Exit 1 on a problem."""
    from .closures import closures, verify_journal

    signing_key = _key(key) if key else None
    with open_journal(db, terminal) as journal:
        problems = verify_journal(journal, signing_key)
        count = len(closures(journal))
    click.echo(json.dumps({"terminal": terminal, "closures": count, "problems": problems}))
    if problems:
        raise SystemExit(1)


@click.command("purge")
@click.option("--terminal", required=True, help=TERMINAL_HELP)
@click.option("--db", required=True, type=click.Path(dir_okay=False, exists=True), help=DB_HELP)
@click.option("--period", required=True, help="An archived day, month or year, at least 6 years old.")
def purge_command(terminal: str, db: str, period: str) -> None:
    """Remove an archived period's tickets from the journal; refused before the 6 years NF525 keeps them."""
    from programme.errors import ProgrammeError

    from .closures import purge
    from .errors import TillError

    with open_journal(db, terminal) as journal:
        try:
            summary = purge(journal, period)
        except (TillError, ProgrammeError) as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(json.dumps(summary))


COMMANDS = [close_day, close_month, close_year, archive_command, purge_command, verify_archive, verify_closures]
