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


def watch_chip(reader_name: str, stop: threading.Event, *, public_key=None,
               on_card: Callable[[CardIdentity], None], on_error: Callable[[str], None],
               on_state: Callable[[str], None]) -> None:
    """Until `stop` is set: read each card put in `reader_name` once, and call on_card (or on_error)."""
    from cardreader.pcscd import wait_card_state
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
                identity = reader.read(wait=WAIT_SLICE)
            except NoCardError:
                continue
            except CardError as exc:
                on_error(str(exc))
            else:
                on_card(identity)
            tell("card in")
            # One read per insertion: wait for the card to leave before reading again.
            while not stop.is_set() and not wait_card_state(reader_name, False, WAIT_SLICE):
                pass
        except CardError as exc:  # pcscd or the reader went away: say so, look again shortly
            tell("unavailable")
            on_error(str(exc))
            stop.wait(WAIT_SLICE * 4)
