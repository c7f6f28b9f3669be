"""Our card application's APDU protocol (docs/card.md): AID, commands, status words, the card data layout.

Both sides use this module: the reader (cardreader.reader, cardreader.writer) and the virtual card.
"""

from __future__ import annotations

import datetime as dt

import msgspec

# F0 = proprietary AID outside the ISO registry; then "LOYALTY" and the application version.
AID = bytes.fromhex("F0") + b"LOYALTY" + bytes([1])
APP_VERSION = 1

CLA_ISO = 0x00
CLA_PROPRIETARY = 0x80
INS_SELECT = 0xA4
INS_READ_DATA = 0xB0
INS_PERSONALISE = 0xD0
INS_LOCK = 0xE0

SW_OK = 0x9000
SW_WRONG_LENGTH = 0x6700
SW_NO_APPLICATION_SELECTED = 0x6985
SW_LOCKED = 0x6986
SW_WRONG_DATA = 0x6A80
SW_APPLET_NOT_FOUND = 0x6A82
SW_NOT_PERSONALISED = 0x6A88
SW_INS_NOT_SUPPORTED = 0x6D00
SW_CLA_NOT_SUPPORTED = 0x6E00

# SELECT answers two bytes: the application version and its state.
STATE_BLANK = 0
STATE_PERSONALISED = 1
STATE_LOCKED = 2

NUMBER_LEN = 13
DATE_LEN = 8
SIGNATURE_LEN = 64
DATA_LEN = NUMBER_LEN + DATE_LEN + 1 + SIGNATURE_LEN  # 86 bytes
SIGNED_PREFIX = b"LOYALTY-CARD/1|"


class CardData(msgspec.Struct, frozen=True):
    """What a personalised card holds: its number, issue date, generation and the issuer's signature."""

    number: str
    issued: dt.date
    generation: int
    signature: bytes = b""

    def signed_bytes(self) -> bytes:
        """The bytes the issuer signs: a fixed prefix, then number, date and generation as stored."""
        return SIGNED_PREFIX + self.encode()[: NUMBER_LEN + DATE_LEN + 1]

    def encode(self) -> bytes:
        if len(self.number) != NUMBER_LEN or not self.number.isdigit():
            raise ValueError(f"card number must be {NUMBER_LEN} digits, got {self.number!r}")
        if not 0 <= self.generation <= 255:
            raise ValueError(f"generation must be 0-255, got {self.generation}")
        signature = self.signature.ljust(SIGNATURE_LEN, b"\0")[:SIGNATURE_LEN]
        return self.number.encode() + self.issued.strftime("%Y%m%d").encode() + bytes([self.generation]) + signature

    @classmethod
    def decode(cls, data: bytes) -> "CardData":
        """Parse the 86 bytes READ DATA returns; ValueError when they are not card data."""
        if len(data) != DATA_LEN:
            raise ValueError(f"card data is {DATA_LEN} bytes, got {len(data)}")
        number = data[:NUMBER_LEN].decode("ascii")
        if not number.isdigit():
            raise ValueError("card number on the card is not digits")
        issued = dt.datetime.strptime(data[NUMBER_LEN : NUMBER_LEN + DATE_LEN].decode("ascii"), "%Y%m%d").date()
        generation = data[NUMBER_LEN + DATE_LEN]
        return cls(number, issued, generation, bytes(data[NUMBER_LEN + DATE_LEN + 1 :]))


def select(aid: bytes = AID) -> list[int]:
    """SELECT by DF name (our AID), first or only occurrence, answer expected."""
    return [CLA_ISO, INS_SELECT, 0x04, 0x00, len(aid), *aid, 0x00]


def read_data() -> list[int]:
    return [CLA_PROPRIETARY, INS_READ_DATA, 0x00, 0x00, DATA_LEN]


def personalise(data: CardData) -> list[int]:
    body = data.encode()
    return [CLA_PROPRIETARY, INS_PERSONALISE, 0x00, 0x00, len(body), *body]


def lock() -> list[int]:
    return [CLA_PROPRIETARY, INS_LOCK, 0x00, 0x00]


def sw(sw1: int, sw2: int) -> int:
    return (sw1 << 8) | sw2


def sw_pair(status: int) -> tuple[int, int]:
    return status >> 8, status & 0xFF


def response(data: bytes, status: int) -> bytes:
    """A response APDU as the card sends it: data then SW1 SW2."""
    return bytes(data) + status.to_bytes(2, "big")


def atr(historical: bytes = b"LOYALTY1") -> bytes:
    """An ISO 7816-3 ATR announcing T=1 with our historical bytes (TCK makes the XOR of T0..TCK zero)."""
    body = bytes([0x80 | len(historical), 0x80, 0x01]) + historical
    tck = 0
    for byte in body:
        tck ^= byte
    return bytes([0x3B]) + body + bytes([tck])
