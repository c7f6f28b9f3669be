"""`loyalty rules`: validate, explain, and publish to a real Mosquitto that a till listens to."""

import json
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import msgspec
from click.testing import CliRunner

from loyalty import rules_cli
from loyalty.cli import main
from server.ingest.store import Store
from server.ingest.store_api import open_store
from sync.broker_url import parse_broker_url
from sync.rules_message import add_version, decode_bundle, encode_bundle
from sync.topics import RULES
from terminal import rules_store
from terminal.journal import Journal
from terminal.sale import sell
from terminal.simulate import Shopper
from tests.fixtures.mqtt import Listener, RawPublisher
from tests.fixtures.signing import opened
from tests.server.test_rules_check import DOC_RULES_TEXT

DEFAULT = Path(__file__).resolve().parent.parent / "programme" / "default_rules.toml"


def run(*args):
    return CliRunner().invoke(main, list(args))


def rules_file(tmp_path, version="2026.11-2", days_ago=1, extra=""):
    start = (datetime.now(timezone.utc) - timedelta(days=days_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")
    text = re.sub(r"(?m)^version = .*$", f'version = "{version}"', DOC_RULES_TEXT)
    text = re.sub(r"(?m)^effective_from = .*$", f"effective_from = {start}", text) + extra
    path = tmp_path / f"{version}.toml"
    path.write_text(text)
    return path


def test_validate_says_what_the_file_holds_or_where_it_is_wrong(tmp_path):
    result = run("rules", "validate", str(DEFAULT))
    assert result.exit_code == 0
    assert result.output == (
        "default_rules.toml: rules 2026.1, in force from 2026-01-01T00:00:00+00:00: "
        "0 multipliers, 0 bonuses, 0 promotions, 0 offers, 2 tiers\n"
    )
    bad = tmp_path / "bad.toml"
    text = DEFAULT.read_text()
    line = text[: text.index("percent = 110")].count("\n") + 1
    bad.write_text(text.replace("percent = 110", 'percent = "110"'))
    result = run("rules", "validate", str(bad))
    assert result.exit_code == 1
    assert result.output == f"Error: bad.toml, line {line}: tiers[0].percent: expected int, got str\n"


def test_explain_prints_the_table_and_checks_the_ticket(tmp_path):
    with Journal(tmp_path / "till.db", "S001-T01") as journal:
        lines, _ = Shopper(seed=2).basket()
        ticket = sell(journal, lines, "2900000000018")
    path = tmp_path / "ticket.json"
    path.write_bytes(msgspec.json.encode(ticket))  # what `loyalty till sell` prints
    result = run("rules", "explain", "--rules", str(DEFAULT), "--ticket", str(path))
    assert result.exit_code == 0, result.output
    out = result.output.splitlines()
    assert out[0] == "rules 2026.1, card 2900000000018"
    assert out[-2] == f"{'total':<68} {ticket.points_earned:>6}"
    assert out[-1] == f"ticket {ticket.id} says {ticket.points_earned} points: agrees"
    other = run("rules", "explain", "--rules", str(rules_file(tmp_path)), "--ticket", str(path))
    assert other.output.splitlines()[-1].endswith("(the ticket was computed under 2026.1)")


def test_publish_keeps_every_version_and_a_till_uses_the_one_in_force(tmp_path, mosquitto, monkeypatch):
    monkeypatch.setattr(rules_cli, "PUBLISH_WAIT", 0.5)
    server_db = str(tmp_path / "server.db")
    Store(server_db).close()
    older = rules_file(tmp_path, "2026.11-2", days_ago=30)
    newer = rules_file(tmp_path, "2026.11-3", days_ago=1, extra='\n[[promotions]]\nid = "everything"\npercent = 200\n')
    first = run("rules", "publish", str(older), "--broker", mosquitto.url, "--db", server_db)
    assert first.exit_code == 0, first.output
    assert json.loads(first.output) == {
        "version": "2026.11-2",
        "added": True,
        "versions": ["2026.11-2"],
        "topic": "loyalty/v1/down/all/rules",
    }
    second = run("rules", "publish", str(newer), "--broker", mosquitto.url)
    assert json.loads(second.output)["versions"] == ["2026.11-2", "2026.11-3"]
    (tmp_path / "changed").mkdir()
    changed = rules_file(
        tmp_path / "changed", "2026.11-2", days_ago=30, extra='\n[[bonuses]]\narticle = "1"\npoints = 1\n'
    )
    refused = run("rules", "publish", str(changed), "--broker", mosquitto.url)
    assert refused.exit_code == 1
    assert refused.output == (
        "Error: rules version 2026.11-2 was already published with other content: "
        "a published version never changes; give the new rules a new version\n"
    )

    till_db = tmp_path / "till.db"
    Journal(till_db, "S001-T01").close()
    listener = rules_store.RulesListener(str(till_db), parse_broker_url(mosquitto.url), "S001-T01").start()
    try:
        assert listener.received.wait(10), "the till got no retained rules"
    finally:
        listener.stop()
    with Journal(till_db, "S001-T01") as journal:
        assert sorted(r.version for r in rules_store.versions(journal.conn)) == ["2026.1", "2026.11-2", "2026.11-3"]
        week_ago = datetime.now(timezone.utc) - timedelta(days=7)
        assert rules_store.in_force(journal.conn, week_ago).version == "2026.11-2"
        ticket = sell(journal, *Shopper(seed=4, card_share=1.0).basket())
        assert ticket.rules_version == "2026.11-3"
    store = Store(server_db)
    assert store.conn.execute("SELECT version FROM rules_versions").fetchall() == [("2026.11-2",)]
    store.close()
    retained = Listener(mosquitto.port, RULES)
    try:
        assert retained.wait_for(lambda m: m)
        bundle = decode_bundle(opened("rules", retained.messages[0][1]))
        assert [p.version for p in bundle.versions] == ["2026.11-2", "2026.11-3"]
    finally:
        retained.close()


def test_publish_records_the_version_in_a_postgresql_head_office(tmp_path, mosquitto, postgres_url, monkeypatch):
    monkeypatch.setattr(rules_cli, "PUBLISH_WAIT", 0.5)
    published = run(
        "rules",
        "publish",
        str(rules_file(tmp_path, "2026.11-2", days_ago=3)),
        "--broker",
        mosquitto.url,
        "--db",
        postgres_url,
    )
    assert published.exit_code == 0, published.output
    store = open_store(postgres_url)
    try:
        assert [tuple(r) for r in store.conn.execute("SELECT version FROM rules_versions").fetchall()] == [
            ("2026.11-2",)
        ]
    finally:
        store.close()


def test_publish_needs_head_offices_key_and_replaces_a_forged_retained_message(tmp_path, mosquitto, monkeypatch):
    monkeypatch.setattr(rules_cli, "PUBLISH_WAIT", 0.5)
    rules = rules_file(tmp_path, "2026.11-2", days_ago=3)
    missing = run("rules", "publish", str(rules), "--broker", mosquitto.url, "--signing-key", str(tmp_path / "no.key"))
    assert missing.exit_code == 1
    assert missing.output == (
        f"Error: no head-office signing key at {tmp_path / 'no.key'}: make one with "
        "`loyalty server keys` (or point LOYALTY_SIGNING_KEY at it)\n"
    )
    (tmp_path / "forged").mkdir()
    forged = rules_file(tmp_path / "forged", "2026.11-9")
    stranger = RawPublisher(mosquitto.port)
    stranger.client.publish(
        RULES, encode_bundle(add_version(None, forged.read_text())[0]), qos=1, retain=True
    ).wait_for_publish(10)
    stranger.close()
    published = run("rules", "publish", str(rules), "--broker", mosquitto.url)
    assert published.exit_code == 0, published.output
    assert published.stderr == (
        "warning: the rules retained on the broker are ignored: rules message refused: "
        "not signed by head office (not a signed envelope)\n"
    )
    assert json.loads(published.stdout)["versions"] == ["2026.11-2"]  # the forged version is not carried on
