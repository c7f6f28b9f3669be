"""Chip reads through the real stack: pcscd, vsmartcard's vpcd, pyscard and our virtual card."""

import os
import subprocess
import sys

import pytest

from cardreader import virtual_card
from cardreader.errors import (
    BlankCardError,
    BlockedCardError,
    CardRemovedError,
    DamagedCardError,
    NoCardError,
    NoReaderError,
    NotLoyaltyCardError,
)
from cardreader.identity import CardIdentity
from cardreader.monitor import CardEvent, CardWatcher
from cardreader.reader import CardReader, list_readers
from cardreader.virtual_card import FOREIGN_AID

NUMBER, OTHER = "2900000000018", "2900000000025"
PCSCD_DOWN = (
    "the card reader service (pcscd) is not running: start it as root with `pcscd` "
    "(or `systemctl start pcscd`), then try again"
)


@pytest.fixture
def reader(card_slot, issuer_key):
    return CardReader(issuer_key.public_key(), hotlist={"2900000000032"}, reader=card_slot.reader)


def test_readers_lists_the_virtual_reader(pcscd):
    assert "Virtual PCD 00 00" in list_readers()


def test_read_a_good_card(card_slot, reader):
    card_slot.insert(NUMBER, generation=2)
    identity = reader.read(wait=5)
    assert identity.number == NUMBER and identity.source == "chip"
    assert identity.generation == 2 and identity.verified is True and identity.issued


def test_insert_read_remove_insert_another_each_event_once(card_slot, reader):
    with CardWatcher([card_slot.reader]) as watcher:
        first = card_slot.insert(NUMBER)
        assert watcher.get(5).kind == "inserted"
        assert reader.read(wait=5).number == NUMBER
        card_slot.remove(first)
        removed = watcher.get(5)
        assert removed == CardEvent("removed", card_slot.reader, "")
        card_slot.insert(OTHER)
        inserted = watcher.get(5)
        assert inserted.kind == "inserted" and inserted.reader == card_slot.reader and inserted.atr
        assert reader.read(wait=5).number == OTHER
        assert watcher.get(1.0) is None, "an event was reported twice"
        assert watcher.error is None


def test_no_card_in_time(card_slot, reader):
    with pytest.raises(NoCardError) as caught:
        reader.read(wait=0.3)
    assert str(caught.value) == (
        "no card in the reader after 0.3 s: insert the card, or scan or type its 13-digit number"
    )


def test_unknown_reader(card_slot, issuer_key):
    with pytest.raises(NoReaderError) as caught:
        CardReader(issuer_key.public_key(), reader="Till 9 reader").read(wait=0.3)
    assert str(caught.value) == (
        "card reader 'Till 9 reader' not found: plug the reader in (check `loyalty card readers`), then try again"
    )


def test_foreign_card(card_slot, reader):
    card_slot.insert(NUMBER, aid=FOREIGN_AID)
    with pytest.raises(NotLoyaltyCardError) as caught:
        reader.read(wait=5)
    assert str(caught.value) == (
        "this is not one of our loyalty cards: ask for the loyalty card, or scan or type its number"
    )


def test_corrupt_signature(card_slot, reader):
    card_slot.insert(NUMBER, corrupt_signature=True)
    with pytest.raises(DamagedCardError) as caught:
        reader.read(wait=5)
    assert str(caught.value) == (
        "card *********0018 is damaged (its signature does not verify): do not accept it; "
        "refer the customer to the welcome desk for a new card"
    )


def test_card_signed_by_another_issuer(card_slot, pcscd):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    card_slot.insert(NUMBER)
    with pytest.raises(DamagedCardError):
        CardReader(Ed25519PrivateKey.generate().public_key(), reader=card_slot.reader).read(wait=5)


def test_hot_listed_card(card_slot, reader):
    card_slot.insert("2900000000032")
    with pytest.raises(BlockedCardError) as caught:
        reader.read(wait=5)
    assert str(caught.value) == (
        "card *********0032 is blocked (on the hot-list): do not accept it; refer the customer to the welcome desk"
    )


def test_blank_card_at_the_till(card_slot, reader):
    card_slot.insert(None)
    with pytest.raises(BlankCardError) as caught:
        reader.read(wait=5)
    assert str(caught.value) == (
        "this loyalty card is blank (never personalised): refer the customer to the welcome desk"
    )


REMOVED = "the card was removed during the read: insert it again and leave it in until its number shows"


def test_card_removed_in_the_middle_of_the_read(card_slot, reader):
    card = card_slot.insert(NUMBER, remove_during_read=True)
    with pytest.raises(CardRemovedError) as caught:
        reader.read(wait=5)
    assert str(caught.value) == REMOVED
    assert card.gone.is_set() and card.apdus == 2  # SELECT answered, READ DATA never


def test_mute_card(card_slot, reader, monkeypatch):
    monkeypatch.setattr(virtual_card, "MUTE_SECONDS", 0.3)
    card_slot.insert(NUMBER, mute=True)
    with pytest.raises(CardRemovedError) as caught:
        reader.read(wait=5)
    assert str(caught.value) == REMOVED


def _read_in_subprocess(env_extra: dict) -> subprocess.CompletedProcess:
    env = {**os.environ, **env_extra}
    return subprocess.run(
        [sys.executable, "-m", "loyalty", "card", "read", "--wait", "1"],
        capture_output=True,
        text=True,
        timeout=30,
        env=env,
    )


@pytest.mark.timeout(60)
def test_pcscd_not_running(pcscd, tmp_path):
    """Stop our own pcscd for real; when a pcscd we did not start runs, point a client at a dead socket."""
    if pcscd.owned:
        pcscd.stop()
        try:
            result = _read_in_subprocess({})
        finally:
            pcscd.start()
    else:
        result = _read_in_subprocess({"PCSCLITE_CSOCK_NAME": str(tmp_path / "no-pcscd.comm")})
    assert result.returncode == 1
    assert result.stderr.strip() == f"Error: {PCSCD_DOWN}"


def test_identity_is_the_same_type_for_every_source(card_slot, reader):
    card_slot.insert(NUMBER)
    chip = reader.read(wait=5)
    assert isinstance(chip, CardIdentity)
    assert chip.to_dict().keys() == CardIdentity(NUMBER, "typed").to_dict().keys()
