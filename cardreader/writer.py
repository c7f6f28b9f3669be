"""Writing at the welcome desk: personalise a blank card (number, issue date, generation, signature), then lock it."""

from __future__ import annotations

import datetime as dt

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from . import apdu
from .apdu import CardData
from .errors import CardLockedError, card_error
from .identity import CardIdentity, accept_number
from .issuer import sign
from .reader import DEFAULT_WAIT, CardReader, select_application, transmit


def personalise(
    reader: CardReader,
    number: str,
    key: Ed25519PrivateKey,
    issued: dt.date | None = None,
    generation: int = 1,
    wait: float = DEFAULT_WAIT,
) -> CardIdentity:
    """Write and lock the card in the reader, then read it back and verify it with the reader's public key."""
    number = accept_number(number, reader.hotlist, reader.prefixes)
    data = sign(CardData(number, issued or dt.datetime.now(dt.timezone.utc).date(), generation), key)
    with reader.connected(wait) as connection:
        if select_application(connection, reader.reader) == apdu.STATE_LOCKED:
            raise CardLockedError()
        for command in (apdu.personalise(data), apdu.lock()):
            _, status = transmit(connection, command, reader.reader)
            if status != apdu.SW_OK:
                raise card_error(apdu.sw_pair(status))
        return reader.read_connection(connection)
