"""Our card application without a reader: APDU encoding, the card's state machine, the ATR."""

import datetime as dt

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cardreader import apdu
from cardreader.apdu import CardData
from cardreader.issuer import sign, verify
from cardreader.virtual_card import FOREIGN_AID, REMOVE, CardApplication


def status(answer: bytes) -> int:
    return int.from_bytes(answer[-2:], "big")


def test_card_data_round_trip_and_signature():
    key = Ed25519PrivateKey.generate()
    data = sign(CardData("2900000000018", dt.date(2026, 11, 23), 3), key)
    raw = data.encode()
    assert len(raw) == apdu.DATA_LEN == 86
    assert raw[:21] == b"290000000001820261123" and raw[21] == 3
    decoded = CardData.decode(raw)
    assert decoded == data and verify(decoded, key.public_key())
    tampered = CardData.decode(raw[:12] + b"9" + raw[13:])
    assert not verify(tampered, key.public_key())
    assert not verify(decoded, Ed25519PrivateKey.generate().public_key())


@pytest.mark.parametrize("raw", [b"", b"x" * 85, b"ABCDEFGHIJKLM" + b"20261123" + bytes(65)])
def test_card_data_refuses_garbage(raw):
    with pytest.raises(ValueError):
        CardData.decode(raw)


def test_atr_announces_t1_and_checksums_to_zero():
    atr = apdu.atr()
    assert atr[0] == 0x3B and atr.endswith(bytes([atr[-1]])) and b"LOYALTY1" in atr
    check = 0
    for byte in atr[1:]:
        check ^= byte
    assert check == 0


def test_blank_card_personalise_lock_then_refuse():
    card = CardApplication(None)
    assert status(card.process(bytes(apdu.read_data()))) == apdu.SW_NO_APPLICATION_SELECTED
    answer = card.process(bytes(apdu.select()))
    assert answer == bytes([apdu.APP_VERSION, apdu.STATE_BLANK, 0x90, 0x00])
    assert status(card.process(bytes(apdu.read_data()))) == apdu.SW_NOT_PERSONALISED
    assert status(card.process(bytes(apdu.lock()))) == apdu.SW_NOT_PERSONALISED
    data = CardData("2900000000018", dt.date(2026, 1, 2), 1, bytes(64))
    assert status(card.process(bytes(apdu.personalise(data)))) == apdu.SW_OK
    assert card.process(bytes(apdu.select()))[1] == apdu.STATE_PERSONALISED
    assert status(card.process(bytes(apdu.lock()))) == apdu.SW_OK
    assert status(card.process(bytes(apdu.personalise(data)))) == apdu.SW_LOCKED
    answer = card.process(bytes(apdu.read_data()))
    assert status(answer) == apdu.SW_OK and CardData.decode(answer[:-2]) == data


def test_foreign_card_and_unknown_commands():
    card = CardApplication(None, aid=FOREIGN_AID)
    assert status(card.process(bytes(apdu.select()))) == apdu.SW_APPLET_NOT_FOUND
    ours = CardApplication(None)
    ours.process(bytes(apdu.select()))
    assert status(ours.process(bytes([0x80, 0x42, 0, 0]))) == apdu.SW_INS_NOT_SUPPORTED
    assert status(ours.process(bytes([0x90, 0xB0, 0, 0]))) == apdu.SW_CLA_NOT_SUPPORTED
    short = bytes([0x80, apdu.INS_PERSONALISE, 0, 0, 3, 1, 2, 3])
    assert status(ours.process(short)) == apdu.SW_WRONG_LENGTH


def test_misbehaving_cards():
    data = CardData("2900000000018", dt.date(2026, 1, 2), 1, bytes(64))
    corrupt = CardApplication(data, corrupt_signature=True)
    corrupt.process(bytes(apdu.select()))
    assert corrupt.process(bytes(apdu.read_data()))[:-2] != data.encode()
    leaving = CardApplication(data, remove_during_read=True)
    leaving.process(bytes(apdu.select()))
    assert leaving.process(bytes(apdu.read_data())) is REMOVE
