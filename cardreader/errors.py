"""The one exception root of cardreader/, and the one place that turns pyscard errors and status words into it.

Every message says what happened and what the cashier (or the welcome desk) should do next.
"""

from __future__ import annotations

from programme.cardnumber import mask_card_number

# PC/SC return codes (winscard.h) that need a message of their own.
SCARD_E_NO_SERVICE = 0x8010001D
SCARD_E_SERVICE_STOPPED = 0x8010001E
SCARD_E_NO_READERS_AVAILABLE = 0x8010002E
SCARD_E_UNKNOWN_READER = 0x80100009
SCARD_E_READER_UNAVAILABLE = 0x80100017
SCARD_E_TIMEOUT = 0x8010000A
SCARD_E_NO_SMARTCARD = 0x8010000C
SCARD_E_NOT_TRANSACTED = 0x80100016
SCARD_W_UNRESPONSIVE_CARD = 0x80100066
SCARD_W_UNPOWERED_CARD = 0x80100067
SCARD_W_RESET_CARD = 0x80100068
SCARD_W_REMOVED_CARD = 0x80100069

NO_SERVICE = (SCARD_E_NO_SERVICE, SCARD_E_SERVICE_STOPPED)
NO_READER = (SCARD_E_NO_READERS_AVAILABLE, SCARD_E_UNKNOWN_READER, SCARD_E_READER_UNAVAILABLE)
CARD_GONE = (
    SCARD_W_REMOVED_CARD,
    SCARD_E_NOT_TRANSACTED,
    SCARD_W_RESET_CARD,
    SCARD_W_UNPOWERED_CARD,
    SCARD_W_UNRESPONSIVE_CARD,
)


class CardError(Exception):
    """A card could not be read, written or accepted; the message says what to do."""


class PcscdNotRunningError(CardError):
    """The PC/SC daemon is not running, so no reader can be seen."""

    def __init__(self):
        super().__init__(
            "the card reader service (pcscd) is not running: start it as root with "
            "`pcscd` (or `systemctl start pcscd`), then try again"
        )


class NoReaderError(CardError):
    """pcscd runs but sees no reader (or not the one asked for)."""

    def __init__(self, reader: str | None = None):
        what = f"card reader {reader!r} not found" if reader else "no card reader found"
        super().__init__(f"{what}: plug the reader in (check `loyalty card readers`), then try again")


class NoCardError(CardError):
    """No card was inserted in time."""

    def __init__(self, wait: float):
        super().__init__(
            f"no card in the reader after {wait:g} s: insert the card, or scan or type its 13-digit number"
        )


class CardRemovedError(CardError):
    """The card left the reader (or stopped answering) in the middle of a read or write."""

    def __init__(self):
        super().__init__("the card was removed during the read: insert it again and leave it in until its number shows")


class NotLoyaltyCardError(CardError):
    """The card in the reader does not hold our application (a bank card, a transport card...)."""

    def __init__(self):
        super().__init__("this is not one of our loyalty cards: ask for the loyalty card, or scan or type its number")


class BlankCardError(CardError):
    """The card holds our application but was never personalised."""

    def __init__(self):
        super().__init__("this loyalty card is blank (never personalised): refer the customer to the welcome desk")


class DamagedCardError(CardError):
    """The card's data fail the issuer signature check (or cannot be decoded)."""

    def __init__(self, number: str | None = None):
        which = f"card {mask_card_number(number)}" if number and len(number) > 4 else "this card"
        super().__init__(
            f"{which} is damaged (its signature does not verify): do not accept it; "
            "refer the customer to the welcome desk for a new card"
        )


class BlockedCardError(CardError):
    """The card number is on the hot-list (lost, stolen, blocked)."""

    def __init__(self, number: str):
        super().__init__(
            f"card {mask_card_number(number)} is blocked (on the hot-list): do not accept it; "
            "refer the customer to the welcome desk"
        )


class InvalidCardNumberError(CardError):
    """A scanned or typed number is not a valid card number (the message comes from programme/)."""


class CardLockedError(CardError):
    """PERSONALISE was refused: the card is already personalised and locked."""

    def __init__(self):
        super().__init__("this card is already personalised and locked: use a blank card")


class IssuerKeyError(CardError):
    """The issuer key (private, at the desk) or public key (at the till) is missing or unreadable."""


class CardProtocolError(CardError):
    """The card answered something our protocol does not allow."""

    def __init__(self, detail: str):
        super().__init__(
            f"the card gave an unexpected answer ({detail}): take it out, insert it again; "
            "if it happens again, refer the customer to the welcome desk"
        )


def _hresult(exc: BaseException) -> int | None:
    value = getattr(exc, "hresult", None)
    if value is None or value == -1:
        return None
    return value & 0xFFFFFFFF


def card_error(
    cause: BaseException | tuple[int, int] | int, *, reader: str | None = None, wait: float | None = None
) -> CardError:
    """Turn a pyscard exception, a PC/SC return code (int) or a status word (sw1, sw2) into a CardError.

    `reader` names the reader asked for; `wait` is the time waited for a card (for a timeout).
    """
    from . import apdu
    from smartcard import Exceptions as sc
    from smartcard.pcsc import PCSCExceptions as pcsc

    if isinstance(cause, CardError):
        return cause
    if isinstance(cause, tuple):
        sw = (cause[0] << 8) | cause[1]
        if sw == apdu.SW_APPLET_NOT_FOUND:
            return NotLoyaltyCardError()
        if sw == apdu.SW_NOT_PERSONALISED:
            return BlankCardError()
        if sw == apdu.SW_LOCKED:
            return CardLockedError()
        return CardProtocolError(f"status word {sw:04X}")
    code = cause & 0xFFFFFFFF if isinstance(cause, int) else _hresult(cause)
    if isinstance(cause, pcsc.EstablishContextException) or code in NO_SERVICE:
        return PcscdNotRunningError()
    if isinstance(cause, sc.NoReadersException) or code in NO_READER:
        return NoReaderError(reader)
    if isinstance(cause, sc.CardRequestTimeoutException) or code == SCARD_E_TIMEOUT:
        return NoCardError(wait or 0)
    if isinstance(cause, sc.NoCardException) or code == SCARD_E_NO_SMARTCARD:
        return CardRemovedError() if wait is None else NoCardError(wait)
    if code in CARD_GONE or isinstance(cause, (sc.CardConnectionException, ConnectionError)):
        return CardRemovedError()
    if isinstance(cause, pcsc.ListReadersException):
        return NoReaderError(reader)
    if isinstance(cause, int):
        return CardProtocolError(f"PC/SC error 0x{code:08X}")
    return CardProtocolError(f"{type(cause).__name__}: {cause}")
