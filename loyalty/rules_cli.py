"""`loyalty rules`: validate a rules file, publish it to every till, explain a ticket's points."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import click

from server.cli.db_option import db_option

PUBLISH_WAIT = 2.0  # seconds to wait for the rules already retained on the broker


def _read_rules(path: str):
    from programme.errors import RulesError
    from programme.rules import MAX_RULES_BYTES, parse_rules
    from sync.safe_files import UnsafeFileError, read_regular

    try:  # a device or an oversized file is refused before it is read
        text = read_regular(
            path,
            MAX_RULES_BYTES,
            "a rules file",
            "give a rules file (TOML, see docs/rules.md)",
            "keep a rules file under 1 MiB",
        ).decode("utf-8")
        return parse_rules(text, Path(path).name), text
    except UnicodeDecodeError as exc:
        raise click.ClickException(f"{Path(path).name} is not UTF-8 text: {exc}") from None
    except (RulesError, UnsafeFileError) as exc:
        raise click.ClickException(str(exc)) from None


@click.group()
def rules() -> None:
    """Validate, publish and explain the programme's rules (see docs/rules.md)."""


@rules.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
def validate(file: str) -> None:
    """Check a rules file; exit 1 with the field, line and what was expected when it is wrong."""
    parsed, _ = _read_rules(file)
    click.echo(
        f"{Path(file).name}: rules {parsed.version}, in force from {parsed.effective_from.isoformat()}: "
        f"{len(parsed.multipliers)} multipliers, {len(parsed.bonuses)} bonuses, "
        f"{len(parsed.promotions)} promotions, {len(parsed.offers)} offers, {len(parsed.tiers)} tiers"
    )


def _retained_bundle(url, wait: float, trust):
    """The rules message retained on the broker, or None when there is none (after `wait` seconds) or it is
    not signed by head office (said on stderr: publishing replaces it)."""
    from sync import topics
    from sync.errors import ConnectError
    from sync.mqtt import check_rc, make_client
    from sync.rules_message import decode_bundle
    from sync.signed import SignatureError

    got: list[bytes] = []
    arrived, subscribed = threading.Event(), threading.Event()
    client = make_client(url, "loyalty-rules-publisher")

    def on_message(c, userdata, message):
        if message.retain and message.payload:
            got.append(message.payload)
        arrived.set()

    client.on_connect = lambda c, *a: c.subscribe(topics.RULES, qos=1)
    client.on_subscribe = lambda *a: subscribed.set()
    client.on_message = on_message
    try:
        check_rc(client.connect(url.host, url.port), f"cannot reach the broker at {url}")
    except OSError as exc:
        raise ConnectError(f"cannot reach the broker at {url}: {exc}; is it running?") from None
    client.loop_start()
    if not subscribed.wait(10):
        client.disconnect()
        client.loop_stop()
        raise ConnectError(f"the broker at {url} did not accept the subscription to {topics.RULES}")
    arrived.wait(wait)
    if not got:
        return client, None
    try:
        return client, decode_bundle(trust.open("rules", got[0]).payload)
    except SignatureError as exc:
        click.echo(f"warning: the rules retained on the broker are ignored: {exc}", err=True)
        return client, None


@rules.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--broker", required=True, envvar="LOYALTY_BROKER", help="Broker address: mqtt://HOST:PORT.")
@db_option(
    required=False,
    exists=False,
    help="Also record the version in the server's database (a SQLite file or a postgresql:// URL), "
    "so its points check knows it.",
)
@click.option(
    "--signing-key",
    type=click.Path(dir_okay=False),
    envvar="LOYALTY_SIGNING_KEY",
    help="Head office's signing key (made by `loyalty server keys`; default ~/.config/loyalty/head-office.key).",
)
def publish(file: str, broker: str, db: str | None, signing_key: str | None) -> None:
    """Send a rules version to every till, signed by head office, retained, with every version published
    before it."""
    from programme.errors import RulesError
    from programme.ticket import utc_now
    from sync import topics
    from sync.broker_url import parse_broker_url
    from sync.errors import SyncError
    from sync.rules_message import add_version, encode_bundle
    from sync.signed import Signer

    _, text = _read_rules(file)
    try:
        signer = Signer.load(signing_key)
    except SyncError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        url = parse_broker_url(broker)
    except SyncError as exc:
        raise click.BadParameter(str(exc), param_hint="--broker") from None
    try:
        client, bundle = _retained_bundle(url, PUBLISH_WAIT, signer.trust())
    except SyncError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        bundle, parsed, added = add_version(bundle, text, Path(file).name)
        if db:
            from server.errors import StoreError
            from server.desk.rules_versions import record_version
            from server.ingest.store_api import open_store

            try:
                store = open_store(db)
            except StoreError as exc:
                raise click.ClickException(str(exc)) from None
            try:
                record_version(store.conn, text, utc_now().isoformat())
            finally:
                store.close()
        info = client.publish(topics.RULES, signer.sign("rules", encode_bundle(bundle)), qos=1, retain=True)
        info.wait_for_publish(10)
        if not info.is_published():
            raise click.ClickException(f"the broker at {url} did not confirm the rules message: publish again")
    except RulesError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        client.disconnect()
        client.loop_stop()
    click.echo(
        json.dumps(
            {
                "version": parsed.version,
                "added": added,
                "versions": [p.version for p in bundle.versions],
                "topic": topics.RULES,
            }
        )
    )


@rules.command()
@click.option(
    "--rules",
    "rules_file",
    required=True,
    type=click.Path(exists=True, dir_okay=False),
    help="The rules file to explain the ticket with.",
)
@click.option(
    "--ticket",
    "ticket_file",
    required=True,
    type=click.Path(exists=True, dir_okay=False),
    help="A ticket as JSON (as printed by `loyalty till sell`, or a ticket message).",
)
def explain(rules_file: str, ticket_file: str) -> None:
    """Print the per-line explanation of a ticket's points: which rule gave how many."""
    import msgspec

    from programme.explain import explain_ticket, render
    from programme.ticket import Ticket

    from programme.rules import MAX_RULES_BYTES
    from sync.safe_files import UnsafeFileError, read_regular

    parsed, _ = _read_rules(rules_file)
    try:
        raw = msgspec.json.decode(
            read_regular(
                ticket_file,
                MAX_RULES_BYTES,
                "a ticket file",
                "give a ticket as JSON (as `loyalty till sell` prints it)",
            )
        )
        ticket = msgspec.convert(raw["ticket"] if isinstance(raw, dict) and "ticket" in raw else raw, Ticket)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise click.ClickException(f"{ticket_file} is not a ticket: {exc}") from None
    except UnsafeFileError as exc:
        raise click.ClickException(str(exc)) from None
    explanation = explain_ticket(parsed, ticket)
    click.echo(render(explanation, ticket.lines))
    till = sum(e.points for e in ticket.points if e.kind == "earn")
    verdict = "agrees" if till == explanation.points else f"differs by {till - explanation.points:+d}"
    note = "" if ticket.rules_version == parsed.version else f" (the ticket was computed under {ticket.rules_version})"
    click.echo(f"ticket {ticket.id} says {till} points: {verdict}{note}")
