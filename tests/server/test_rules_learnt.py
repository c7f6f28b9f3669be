"""Head office learns each rules version from the retained rules message, so it can recompute the tickets of
a version published without `--db` instead of flagging them all."""

from __future__ import annotations

from pathlib import Path

import pytest

import programme
from server.ingest.rules_check import RulesCatalog
from server.ingest.store import Store
from server.ingest.uplink import Uplink
from sync import topics
from sync.broker_url import parse_broker_url
from sync.retained import publish_retained
from tests.fixtures.signing import signed
from sync.rules_message import RulesBundle, add_version, encode_bundle

SHIPPED = (Path(programme.__file__).parent / "default_rules.toml").read_text()
NEXT = SHIPPED.replace('version = "2026.1"', 'version = "2026.2"').replace(
    "effective_from = 2026-01-01T00:00:00Z", "effective_from = 2026-03-01T00:00:00Z"
)


def publish(url: str, bundle: RulesBundle) -> None:
    publish_retained(parse_broker_url(url), topics.RULES, signed("rules", encode_bundle(bundle)), "test-rules", "rules")


@pytest.mark.timeout(60)
def test_versions_on_the_retained_rules_message_are_recorded_once(tmp_path, mosquitto):
    assert 'version = "2026.2"' in NEXT
    bundle, _, _ = add_version(None, SHIPPED)
    bundle, _, _ = add_version(bundle, NEXT)
    publish(mosquitto.url, bundle)
    db = tmp_path / "server.db"
    Store(db).close()
    uplink = Uplink(str(db), parse_broker_url(mosquitto.url)).start()  # after the publish: the message is retained
    try:
        assert uplink.wait_until(lambda u: u.rules_versions == 2, 10)
        publish(mosquitto.url, bundle)  # published again: nothing new
        assert uplink.wait_until(lambda u: u.rules_versions == 2 and u.dead_letters == 0, 10)
    finally:
        uplink.stop()
    store = Store(db)
    try:
        assert sorted(RulesCatalog().refresh(store.conn).by_version) == ["2026.1", "2026.2"]
        assert [r[0] for r in store.conn.execute("SELECT version FROM rules_versions ORDER BY version")] == [
            "2026.1",
            "2026.2",
        ]
    finally:
        store.close()


@pytest.mark.timeout(60)
def test_a_version_changed_after_publication_is_refused_into_dead_letters(tmp_path, mosquitto):
    db = tmp_path / "server.db"
    Store(db).close()
    uplink = Uplink(str(db), parse_broker_url(mosquitto.url)).start()
    try:
        assert uplink.wait_subscribed(10)
        publish(mosquitto.url, add_version(None, NEXT)[0])
        assert uplink.wait_until(lambda u: u.rules_versions == 1, 10)
        changed = NEXT.replace("cents_per_point = 100", "cents_per_point = 50")
        assert changed != NEXT
        publish(mosquitto.url, add_version(None, changed)[0])
        assert uplink.wait_until(lambda u: u.dead_letters == 1, 10)
    finally:
        uplink.stop()
    store = Store(db)
    try:
        assert [(d["topic"], d["reason"]) for d in store.dead_letters()] == [
            (
                "loyalty/v1/down/all/rules",
                "rules version 2026.2 not recorded: rules version 2026.2 is already "
                "recorded with other content: a published version never changes; give the new rules a new version",
            )
        ]
    finally:
        store.close()
