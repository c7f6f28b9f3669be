"""Card I/O at the till through cardreader/: typed or scanned numbers, and chip reads on insert.

The chip loop blocks on the reader, so the screen runs it in a worker thread and gets callbacks;
every CardError becomes the reader's own message, which says what the cashier should do.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from cardreader.errors import CardError, NoCardError
from cardreader.identity import CardIdentity
from cardreader.typed import card_from_input

from .errors import CardRefused

WAIT_SLICE = 0.5  # seconds each wait for a card (or its removal) lasts before the stop flag is looked at


def typed_identity(raw: str, source: str = "typed") -> CardIdentity:
    """A typed or scanned (keyboard-wedge) number, checked as cardreader checks every source."""
    try:
        return card_from_input(raw, source)
    except CardError as exc:
        raise CardRefused(str(exc)) from None


class _Presence:
    """The card just read, watched through SCardGetStatusChange until it leaves (or another replaces it).

    The state is kept between waits, and pcsc-lite's event counter (upper 16 bits) tells a card
    taken out and another put in between two waits, which a fresh "present or not" look would miss.
    """

    def __init__(self, reader_name: str):
        from smartcard import scard

        from cardreader.errors import PcscdNotRunningError

        hresult, self.context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
        if hresult != scard.SCARD_S_SUCCESS:
            raise PcscdNotRunningError()
        self.states = [(reader_name, scard.SCARD_STATE_UNAWARE)]
        self.counter = None
        self.left(0)

    def left(self, timeout: float) -> bool:
        """True once the card is gone or swapped; waits at most `timeout` seconds for a change."""
        from smartcard import scard

        from cardreader.errors import card_error

        hresult, states = scard.SCardGetStatusChange(self.context, int(timeout * 1000), self.states)
        if hresult == scard.SCARD_E_TIMEOUT:
            return False
        if hresult != scard.SCARD_S_SUCCESS:
            raise card_error(hresult, reader=self.states[0][0])
        name, state, _ = states[0]
        self.states = [(name, state & ~scard.SCARD_STATE_CHANGED)]
        counter = state >> 16
        if self.counter is None:
            self.counter = counter
        return not state & scard.SCARD_STATE_PRESENT or counter != self.counter

    def close(self) -> None:
        from smartcard import scard

        scard.SCardReleaseContext(self.context)


def _wait_gone(reader_name: str, stop: threading.Event) -> None:
    presence = _Presence(reader_name)
    try:
        while not stop.is_set() and not presence.left(WAIT_SLICE):
            pass
    finally:
        presence.close()


def watch_chip(
    reader_name: str,
    stop: threading.Event,
    *,
    public_key=None,
    on_card: Callable[[CardIdentity], None],
    on_error: Callable[[str], None],
    on_state: Callable[[str], None],
) -> None:
    """Until `stop` is set: read each card put in `reader_name` once, and call on_card (or on_error)."""
    from cardreader.errors import NoReaderError, PcscdNotRunningError
    from cardreader.reader import CardReader

    reader = CardReader(public_key, reader=reader_name)
    state = None

    def tell(new: str) -> None:
        nonlocal state
        if new != state:
            state = new
            on_state(new)

    while not stop.is_set():
        try:
            tell("ready")
            try:
                on_card(reader.read(wait=WAIT_SLICE))
            except NoCardError:
                continue
            except (PcscdNotRunningError, NoReaderError):
                raise
            except CardError as exc:  # this card cannot be used: say why once, until it is taken out
                on_error(str(exc))
            tell("card in")
            _wait_gone(reader_name, stop)
        except CardError as exc:  # pcscd or the reader went away: say so, look again shortly
            tell("unavailable")
            on_error(str(exc))
            stop.wait(WAIT_SLICE * 4)
