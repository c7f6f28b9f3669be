"""What head office pushes to every till (rules, hot-list, offers) is signed: a stranger's retained message on
a real Mosquitto is refused by the server and by a till, the genuine signed one is taken."""

from __future__ import annotations

import logging
import re
import sqlite3
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import msgspec
import pytest

import programme
from server.ingest.store import Store
from server.ingest.uplink import Uplink
from sync import topics
from sync.broker_url import parse_broker_url
from sync.retained import publish_retained
from sync.rules_message import add_version, encode_bundle
from sync.signed import SignatureError, Signer, Trust, make_key
from terminal import rules_store
from terminal.downlink import DownlinkListener
from terminal.journal import Journal
from terminal.keys import signed_messages

from ..fixtures.mqtt import RawPublisher
from ..fixtures.signing import signed, trust

SHIPPED = (Path(programme.__file__).parent / "default_rules.toml").read_text()
FORGED = SHIPPED.replace('version = "2026.1"', 'version = "2026.9"').replace(
    "cents_per_point = 100", "cents_per_point = 10"
)
NEXT = SHIPPED.replace('version = "2026.1"', 'version = "2026.2"').replace(
    "effective_from = 2026-01-01T00:00:00Z", "effective_from = 2026-03-01T00:00:00Z"
)
CARD = "2900000000018"
TERMINAL = "S001-T01"


def hotlist(*cards: str) -> bytes:
    return msgspec.json.encode(
        {
            "schema": 1,
            "published_at": "2026-03-14T12:00:00+00:00",
            "cards": [{"card": c, "status": "stolen", "since": "2026-03-01"} for c in cards],
        }
    )


def offers(campaign: int) -> bytes:
    return msgspec.json.encode(
        {
            "schema": 1,
            "published_at": "2026-03-14T12:00:00+00:00",
            "offers": [
                {
                    "campaign": campaign,
                    "name": "forged",
                    "kind": "bonus_points",
                    "points": 99999,
                    "cheque_cents": 0,
                    "starts": "2026-01-01",
                    "ends": "2099-01-01",
                    "stores": [],
                    "cards": [CARD],
                }
            ],
        }
    )


def stranger_publishes(port: int, topic: str, payload: bytes) -> None:
    """Any client of the broker: no key of head office."""
    stranger = RawPublisher(port)
    try:
        stranger.client.publish(topic, payload, qos=1, retain=True).wait_for_publish(10)
    finally:
        stranger.close()


def other_key(tmp_path) -> Signer:
    path, _, _ = make_key(tmp_path / "not-head-office.key")
    return Signer.load(path)


# The envelope itself.


def test_the_envelope_keeps_the_payload_bytes_and_refuses_what_it_does_not_prove(tmp_path):
    payload = b'{"schema": 1,  "cards": []}'  # odd spacing kept byte for byte
    envelope = signed("hotlist", payload)
    assert trust().open("hotlist", envelope).payload == payload
    refusals = {
        b'{"schema": 1, "cards": []}': "hotlist message refused: not signed by head office (not a signed envelope)",
        envelope.replace(
            b'"cards": []', b'"cards": [{"card": "x"}]'
        ): "hotlist message refused: the signature does not match its content",
        other_key(tmp_path).sign(
            "hotlist", payload
        ): f"hotlist message refused: signed by unknown key {other_key_id(tmp_path)}",
    }
    for data, text in refusals.items():
        with pytest.raises(SignatureError) as refused:
            trust().open("hotlist", data)
        assert str(refused.value) == text
    with pytest.raises(SignatureError) as refused:
        trust().open("rules", envelope)  # a signed hot-list does not pass for rules
    assert str(refused.value) == "rules message refused: the envelope is signed as a hotlist message"
    with pytest.raises(SignatureError) as refused:
        Trust({}, "/etc/loyalty/head-office.pub").open("hotlist", envelope)
    assert str(refused.value) == (
        "hotlist message refused: no head-office public key to check it with "
        "(/etc/loyalty/head-office.pub); provision with "
        "`loyalty till provision --head-office-key`"
    )


def other_key_id(tmp_path) -> str:
    return Signer.load(tmp_path / "not-head-office.key").key_id


def test_the_key_is_made_once_in_a_private_file(tmp_path):
    path, pub_path, public = make_key(tmp_path / "keys" / "head-office.key")
    assert path.stat().st_mode & 0o777 == 0o600
    assert pub_path.read_text() == public + "\n"
    with pytest.raises(SignatureError) as again:
        make_key(path)
    assert str(again.value) == (
        f"{path} exists already: head office has its key (public key in {path}.pub); "
        "a new key would make every till refuse what head office pushes"
    )
    with pytest.raises(SignatureError) as missing:
        Signer.load(tmp_path / "none.key")
    assert str(missing.value) == (
        f"no head-office signing key at {tmp_path / 'none.key'}: make one with "
        "`loyalty server keys` (or point LOYALTY_SIGNING_KEY at it)"
    )


# The server.


@pytest.mark.timeout(60)
def test_forged_rules_are_dead_lettered_by_the_server_and_the_signed_ones_learnt(tmp_path, mosquitto, caplog):
    stranger_publishes(mosquitto.port, topics.RULES, encode_bundle(add_version(None, FORGED)[0]))
    db = tmp_path / "server.db"
    Store(db).close()
    caplog.set_level(logging.INFO, logger="loyalty.uplink")
    uplink = Uplink(str(db), parse_broker_url(mosquitto.url)).start()
    try:
        assert uplink.wait_until(lambda u: u.dead_letters == 1, 10)
        assert uplink.rules_versions == 0
        # Signed by another key, then a genuine one.
        stranger_publishes(
            mosquitto.port, topics.RULES, other_key(tmp_path).sign("rules", encode_bundle(add_version(None, FORGED)[0]))
        )
        assert uplink.wait_until(lambda u: u.dead_letters == 2, 10)
        genuine = signed("rules", encode_bundle(add_version(None, NEXT)[0]))
        publish_retained(parse_broker_url(mosquitto.url), topics.RULES, genuine, "test-rules", "rules")
        assert uplink.wait_until(lambda u: u.rules_versions == 1, 10)
        # A replay of an older signed message is refused.
        older = signed(
            "rules",
            encode_bundle(add_version(None, SHIPPED)[0]),
            issued_at=datetime.now(timezone.utc) - timedelta(days=1),
        )
        stranger_publishes(mosquitto.port, topics.RULES, older)
        assert uplink.wait_until(lambda u: u.dead_letters == 3, 10)
    finally:
        uplink.stop()
    store = Store(db)
    try:
        assert [r[0] for r in store.conn.execute("SELECT version FROM rules_versions")] == ["2026.2"]
        reasons = [r[0] for r in store.conn.execute("SELECT reason FROM dead_letters ORDER BY rowid")]
    finally:
        store.close()
    assert reasons[0] == "rules message refused: not signed by head office (not a signed envelope)"
    assert reasons[1] == f"rules message refused: signed by unknown key {other_key_id(tmp_path)}"
    assert re.fullmatch(
        r"rules message refused: issued at \S+, older than the one held \(issued at \S+\): "
        r"a replayed message",
        reasons[2],
    ), reasons[2]
    assert not [r for r in caplog.records if "rules_version_learnt" in r.getMessage() and "2026.9" in r.getMessage()]


# A till.


@pytest.mark.timeout(60)
def test_forged_rules_are_refused_by_a_till_and_the_signed_ones_kept(tmp_path, mosquitto):
    db = str(tmp_path / "till.db")
    Journal(db, TERMINAL).close()
    stranger_publishes(mosquitto.port, topics.RULES, encode_bundle(add_version(None, FORGED)[0]))
    listener = rules_store.RulesListener(db, parse_broker_url(mosquitto.url), TERMINAL).start()
    try:
        assert listener.received.wait(10)
        listener.received.clear()
        publish_retained(
            parse_broker_url(mosquitto.url),
            topics.RULES,
            signed("rules", encode_bundle(add_version(None, NEXT)[0])),
            "test-rules",
            "rules",
        )
        assert listener.received.wait(10)
    finally:
        listener.stop()
    with Journal(db, TERMINAL) as journal:
        assert sorted(r.version for r in rules_store.versions(journal.conn)) == ["2026.1", "2026.2"]


@pytest.mark.timeout(60)
def test_a_forged_hotlist_and_forged_offers_leave_the_till_as_it_was(tmp_path, mosquitto, caplog):
    db = str(tmp_path / "till.db")
    Journal(db, TERMINAL).close()
    url = parse_broker_url(mosquitto.url)
    publish_retained(url, topics.HOTLIST, signed("hotlist", hotlist(CARD)), "test-hotlist", "hot-list")
    caplog.set_level(logging.INFO, logger="loyalty.till.downlink")
    listener = DownlinkListener(db, TERMINAL, url).start()
    try:
        assert listener.updated.wait(10), "the signed hot-list did not arrive"
        listener.updated.clear()
        stranger_publishes(mosquitto.port, topics.HOTLIST, hotlist())  # unblocks every card, if believed
        stranger_publishes(mosquitto.port, topics.OFFERS, offers(666))
        stale = signed("hotlist", hotlist(), issued_at=datetime.now(timezone.utc) - timedelta(hours=1))
        stranger_publishes(mosquitto.port, topics.HOTLIST, stale)  # a genuine but older list, replayed
        assert wait_for_records(caplog, "refused", 3), [r.getMessage() for r in caplog.records]
        publish_retained(url, topics.OFFERS, signed("offers", offers(7)), "test-offers", "offers")
        assert listener.offers_updated.wait(10)
    finally:
        listener.stop()
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT card, reason FROM hotlist").fetchall() == [(CARD, "stolen")]
    assert conn.execute("SELECT campaign FROM offers").fetchall() == [(7,)]
    refused = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert any(
        "not signed by head office (not a signed envelope): the till keeps its previous list" in m for m in refused
    )
    assert any(
        "not signed by head office (not a signed envelope): the till keeps its previous offers" in m for m in refused
    )
    assert any("a replayed message: the till keeps its previous list" in m for m in refused)
    with Journal(db, TERMINAL) as journal:
        assert sorted(signed_messages(journal.conn)) == ["hotlist", "offers"]


def wait_for_records(caplog, word: str, count: int, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sum(word in r.getMessage() for r in caplog.records) >= count:
            return True
        time.sleep(0.05)
    return False
