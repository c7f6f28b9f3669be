"""The one helper that maps pyscard exceptions, PC/SC codes and status words to cashier messages."""

import pytest
from smartcard.Exceptions import (
    CardConnectionException,
    CardRequestTimeoutException,
    NoCardException,
    NoReadersException,
)
from smartcard.pcsc.PCSCExceptions import EstablishContextException

from cardreader import errors
from cardreader.errors import card_error


@pytest.mark.parametrize(
    "cause, expected",
    [
        (EstablishContextException(errors.SCARD_E_NO_SERVICE), errors.PcscdNotRunningError),
        (CardConnectionException(hresult=errors.SCARD_E_NO_SERVICE), errors.PcscdNotRunningError),
        (errors.SCARD_E_SERVICE_STOPPED, errors.PcscdNotRunningError),
        (NoReadersException(), errors.NoReaderError),
        (errors.SCARD_E_NO_READERS_AVAILABLE, errors.NoReaderError),
        (CardRequestTimeoutException(hresult=errors.SCARD_E_TIMEOUT), errors.NoCardError),
        (CardConnectionException(hresult=errors.SCARD_W_REMOVED_CARD), errors.CardRemovedError),
        (CardConnectionException(hresult=errors.SCARD_E_NOT_TRANSACTED), errors.CardRemovedError),
        (NoCardException("no card", errors.SCARD_E_NO_SMARTCARD), errors.CardRemovedError),
        ((0x6A, 0x82), errors.NotLoyaltyCardError),
        ((0x6A, 0x88), errors.BlankCardError),
        ((0x69, 0x86), errors.CardLockedError),
        ((0x6F, 0x00), errors.CardProtocolError),
    ],
)
def test_each_cause_gets_its_error(cause, expected):
    assert type(card_error(cause, wait=2 if expected is errors.NoCardError else None)) is expected


def test_messages_say_what_to_do():
    assert str(card_error(errors.SCARD_E_NO_SERVICE)) == (
        "the card reader service (pcscd) is not running: start it as root with `pcscd` "
        "(or `systemctl start pcscd`), then try again"
    )
    assert str(card_error(NoReadersException())) == (
        "no card reader found: plug the reader in (check `loyalty card readers`), then try again"
    )
    assert str(card_error((0x6F, 0x00))) == (
        "the card gave an unexpected answer (status word 6F00): take it out, insert it again; "
        "if it happens again, refer the customer to the welcome desk"
    )
    assert all(issubclass(cls, errors.CardError) for cls in (errors.PcscdNotRunningError, errors.BlockedCardError))
