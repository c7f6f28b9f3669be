"""`loyalty card ...`: read, personalise and emulate loyalty cards. Parses options, calls cardreader, prints."""

from __future__ import annotations

import datetime as dt
import json
import signal
import sys
import threading

import click

from .errors import CardError, NoReaderError

HOTLIST_HELP = "File of hot-listed card numbers (one a line): these are refused."


def _fail(exc: CardError) -> None:
    raise click.ClickException(str(exc)) from None


@click.group()
def card() -> None:
    """Read, personalise and emulate loyalty cards (PC/SC through pcscd)."""


@card.command()
def readers() -> None:
    """List the card readers pcscd sees, one a line."""
    from .reader import list_readers

    try:
        names = list_readers()
    except CardError as exc:
        _fail(exc)
    if not names:
        _fail(NoReaderError())
    for name in names:
        click.echo(name)


@card.command()
@click.option("--reader", "reader_name", help="Read from this reader only (see `loyalty card readers`).")
@click.option(
    "--wait", default=10.0, show_default=True, type=click.FloatRange(min=0), help="Seconds to wait for a card."
)
@click.option(
    "--issuer-public-key",
    type=click.Path(dir_okay=False),
    help="The issuer's public key (issuer.pub); default $LOYALTY_ISSUER_PUBLIC_KEY, "
    "then $XDG_CONFIG_HOME/loyalty/issuer.pub.",
)
@click.option("--hotlist", type=click.Path(exists=True, dir_okay=False), help=HOTLIST_HELP)
def read(reader_name: str | None, wait: float, issuer_public_key: str | None, hotlist: str | None) -> None:
    """Wait for a chip card, read and verify it; print it as JSON."""
    from .identity import load_hotlist
    from .reader import CardReader

    try:
        reader = CardReader(issuer_public_key, load_hotlist(hotlist), reader_name)
        identity = reader.read(wait)
    except CardError as exc:
        _fail(exc)
    click.echo(json.dumps(identity.to_dict()))


@card.command()
@click.argument("number")
@click.option("--scanned", is_flag=True, help="The number came from a barcode scanner (default: typed).")
@click.option("--hotlist", type=click.Path(exists=True, dir_okay=False), help=HOTLIST_HELP)
def typed(number: str, scanned: bool, hotlist: str | None) -> None:
    """Check a typed or scanned card number (check digit, prefix, hot-list); print it as JSON."""
    from .identity import load_hotlist
    from .typed import card_from_input

    try:
        identity = card_from_input(number, "barcode" if scanned else "typed", load_hotlist(hotlist))
    except CardError as exc:
        _fail(exc)
    click.echo(json.dumps(identity.to_dict()))


@card.group(name="issuer-key")
def issuer_key() -> None:
    """The issuer's Ed25519 key pair (private at the welcome desk, public on every till)."""


@issuer_key.command(name="new")
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False),
    help="Folder for issuer.key (private, mode 0600) and issuer.pub.",
)
def issuer_key_new(out_dir: str) -> None:
    """Make a new issuer key pair: issuer.key stays at the desk, issuer.pub goes to the tills."""
    from .issuer import new_key_pair

    try:
        private_path, public_path = new_key_pair(out_dir)
    except CardError as exc:
        _fail(exc)
    click.echo(json.dumps({"private_key": str(private_path), "public_key": str(public_path)}))


@card.command()
@click.option("--number", required=True, help="The 13-digit card number to write.")
@click.option(
    "--key",
    "key_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False),
    help="The issuer's private key (issuer.key).",
)
@click.option(
    "--generation",
    default=1,
    show_default=True,
    type=click.IntRange(0, 255),
    help="Card generation (a replacement card has the next one).",
)
@click.option("--issued", type=click.DateTime(["%Y-%m-%d"]), help="Issue date (default: today, UTC).")
@click.option("--reader", "reader_name", help="Write in this reader only.")
@click.option(
    "--wait", default=10.0, show_default=True, type=click.FloatRange(min=0), help="Seconds to wait for a card."
)
def personalise(
    number: str, key_path: str, generation: int, issued: dt.datetime | None, reader_name: str | None, wait: float
) -> None:
    """Write a blank card (number, issue date, generation, signature), lock it, read it back; print JSON."""
    from .issuer import load_private_key
    from .reader import CardReader
    from .writer import personalise as write_card

    try:
        key = load_private_key(key_path)
        reader = CardReader(key.public_key(), reader=reader_name)
        identity = write_card(reader, number, key, issued.date() if issued else None, generation, wait)
    except CardError as exc:
        _fail(exc)
    click.echo(json.dumps(identity.to_dict()))


@card.command()
@click.option("--number", help="Card number (13 digits). Leave out with --blank.")
@click.option("--blank", is_flag=True, help="A blank card, for `loyalty card personalise`.")
@click.option(
    "--key",
    "key_path",
    type=click.Path(exists=True, dir_okay=False),
    help="Issuer private key to sign with (default: a local development key under "
    "$XDG_CONFIG_HOME/loyalty/, made on first use).",
)
@click.option("--generation", default=1, show_default=True, type=click.IntRange(0, 255), help="Card generation.")
@click.option(
    "--reader-port",
    default=35963,
    show_default=True,
    type=click.IntRange(1, 65535),
    help="vpcd port: 35963 is 'Virtual PCD 00 00', 35964 is 'Virtual PCD 00 01'.",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Where vpcd (pcscd) runs.")
@click.option("--foreign", is_flag=True, help="Misbehave: a foreign card (another application, not ours).")
@click.option("--corrupt-signature", is_flag=True, help="Misbehave: the signature does not verify.")
@click.option("--remove-during-read", is_flag=True, help="Misbehave: leave the reader in the middle of READ DATA.")
@click.option("--mute", is_flag=True, help="Misbehave: answer no command, then leave.")
def virtual(
    number: str | None,
    blank: bool,
    key_path: str | None,
    generation: int,
    reader_port: int,
    host: str,
    foreign: bool,
    corrupt_signature: bool,
    remove_during_read: bool,
    mute: bool,
) -> None:
    """Insert a virtual loyalty card into vpcd's reader until stopped (Ctrl-C or SIGTERM removes it)."""
    from programme.cardnumber import validate_card_number
    from programme.errors import CardNumberError

    from .issuer import development_key, load_private_key
    from . import apdu
    from .virtual_card import FOREIGN_AID, VirtualCard, loyalty_card

    if blank == bool(number):
        raise click.UsageError("give either --number N or --blank")
    try:
        if number:
            number = validate_card_number(number)
        key = load_private_key(key_path) if key_path else development_key()
    except CardNumberError as exc:
        raise click.BadParameter(str(exc), param_hint="--number") from None
    except CardError as exc:
        _fail(exc)
    application = loyalty_card(
        number,
        key,
        generation=generation,
        aid=FOREIGN_AID if foreign else apdu.AID,
        corrupt_signature=corrupt_signature,
        remove_during_read=remove_during_read,
        mute=mute,
    )
    card_ = VirtualCard(application, host=host, port=reader_port)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        card_.insert()
    except ConnectionError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        if not card_.taken.wait(2):
            click.echo(
                f"the reader on port {reader_port} has not taken the card yet: another card is in it? "
                "waiting until it is removed",
                err=True,
            )
        while not stop.is_set() and not card_.gone.is_set() and not card_.taken.wait(0.2):
            pass
        if card_.taken.is_set():
            click.echo(json.dumps({"event": "card_inserted", "number": number, "port": reader_port}))
            sys.stdout.flush()
        while not stop.is_set() and not card_.gone.is_set():
            stop.wait(0.2)
    except KeyboardInterrupt:
        pass
    finally:
        card_.remove()
    click.echo(json.dumps({"event": "card_removed", "number": number}))
