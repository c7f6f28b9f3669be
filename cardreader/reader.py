"""Reading a loyalty card through PC/SC (pyscard): the same code for a USB reader in a store and for vpcd.

wait for a card -> connect -> SELECT our AID -> READ DATA -> verify the issuer signature, the check digit
and prefix, then the hot-list. Every failure leaves as a CardError (cardreader.errors.card_error).
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterator
from contextlib import contextmanager

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from programme.cardnumber import DEFAULT_PREFIXES

from . import apdu
from .apdu import CardData
from .errors import (
    CardError,
    CardProtocolError,
    DamagedCardError,
    InvalidCardNumberError,
    NoCardError,
    NoReaderError,
    card_error,
)
from .identity import CardIdentity, accept_number
from .issuer import load_public_key, verify

log = logging.getLogger(__name__)
DEFAULT_WAIT = 10.0


def list_readers() -> list[str]:
    """Reader names as pcscd reports them; raises PcscdNotRunningError when pcscd is not running."""
    from smartcard.System import readers

    try:
        return [str(r) for r in readers()]
    except Exception as exc:  # pyscard raises several unrelated types; card_error sorts them
        raise card_error(exc) from None


def transmit(connection, command: list[int], reader: str | None = None) -> tuple[bytes, int]:
    """Send one APDU; returns (data, status word). A lost card becomes CardRemovedError."""
    try:
        data, sw1, sw2 = connection.transmit(command)
    except Exception as exc:
        raise card_error(exc, reader=reader) from None
    return bytes(data), apdu.sw(sw1, sw2)


def select_application(connection, reader: str | None = None) -> int:
    """SELECT our AID; returns the application state. A foreign card raises NotLoyaltyCardError."""
    data, status = transmit(connection, apdu.select(), reader)
    if status != apdu.SW_OK:
        raise card_error(apdu.sw_pair(status), reader=reader)
    if len(data) != 2:
        raise CardProtocolError(f"SELECT answered {len(data)} bytes, expected 2")
    return data[1]


class CardReader:
    """A till's chip reader: the issuer public key, the current hot-list, and optionally one reader by name."""

    def __init__(
        self,
        public_key: Ed25519PublicKey | str | None = None,
        hotlist: Collection[str] = (),
        reader: str | None = None,
        prefixes: tuple[str, ...] = DEFAULT_PREFIXES,
    ):
        # A path (or None: the configured default) is loaded at the first check, once a card is in.
        self._public_key = public_key
        self.hotlist = hotlist
        self.reader = reader
        self.prefixes = prefixes
        self._reader_seen = False

    @property
    def public_key(self) -> Ed25519PublicKey:
        if not isinstance(self._public_key, Ed25519PublicKey):
            self._public_key = load_public_key(self._public_key)
        return self._public_key

    def _readers(self) -> list[str] | None:
        """The readers to wait on (None: all). The list is checked on the first read and after a timeout."""
        if not self._reader_seen:
            names = list_readers()
            if not names or (self.reader is not None and self.reader not in names):
                raise NoReaderError(self.reader)
            self._reader_seen = True
        return [self.reader] if self.reader else None

    @contextmanager
    def connected(self, wait: float = DEFAULT_WAIT) -> Iterator[object]:
        """Wait up to `wait` seconds for a card in the reader(s), then yield a connected pyscard connection."""
        from smartcard.CardRequest import CardRequest

        names = self._readers()
        request = None
        try:
            request = CardRequest(timeout=wait, readers=names, newcardonly=False)
            service = request.waitforcard()
            connection = service.connection
            connection.connect()
        except CardError:
            raise
        except Exception as exc:
            error = card_error(exc, reader=self.reader, wait=wait)
            if isinstance(error, NoCardError):  # no card, or did the reader go away meanwhile?
                self._reader_seen = False
                self._readers()
            raise error from None
        finally:
            if request is not None:
                # pyscard's CardRequest frees its PC/SC context only in __del__: free it now.
                _quietly(getattr(request.pcsccardrequest, "release", lambda: None))
        try:
            yield connection
        finally:
            _quietly(connection.disconnect)

    def read(self, wait: float = DEFAULT_WAIT) -> CardIdentity:
        """Wait for a card and return its verified identity, or raise the CardError a cashier can act on."""
        with self.connected(wait) as connection:
            return self.read_connection(connection)

    def read_connection(self, connection) -> CardIdentity:
        """SELECT, READ DATA and verify on a connection already open."""
        state = select_application(connection, self.reader)
        if state == apdu.STATE_BLANK:
            raise card_error(apdu.sw_pair(apdu.SW_NOT_PERSONALISED))
        raw, status = transmit(connection, apdu.read_data(), self.reader)
        if status != apdu.SW_OK:
            raise card_error(apdu.sw_pair(status))
        return self.check(raw)

    def check(self, raw: bytes) -> CardIdentity:
        """Decode and verify READ DATA's answer: signature, then number, then hot-list."""
        try:
            data = CardData.decode(raw)
        except ValueError:
            raise DamagedCardError() from None
        if not verify(data, self.public_key):
            raise DamagedCardError(data.number)
        try:
            number = accept_number(data.number, self.hotlist, self.prefixes)
        except InvalidCardNumberError:  # signed, yet not a valid number: an issuing fault, not the cashier's
            raise DamagedCardError(data.number) from None
        return CardIdentity(
            number=number, source="chip", issued=data.issued.isoformat(), generation=data.generation, verified=True
        )


def _quietly(action) -> None:
    try:
        action()
    except Exception as exc:  # closing a card that already left: nothing to tell the cashier
        log.debug("ignored while closing: %s", exc)
