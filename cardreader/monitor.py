"""Card insert/remove events, as a queue the till's card worker can block on.

pyscard's CardMonitor is a process-wide singleton whose thread dies for good when pcscd restarts and
cannot be stopped promptly (it waits up to 60 s); a till must survive a pcscd restart, so this watcher
runs its own thread on SCardGetStatusChange and stops at once with SCardCancel.
"""

from __future__ import annotations

import queue
import threading
from typing import Literal

import msgspec

from .errors import CardError, PcscdNotRunningError, card_error

POLL_MS = 1000  # how often the reader list is refreshed when nothing happens


class CardEvent(msgspec.Struct, frozen=True):
    kind: Literal["inserted", "removed"]
    reader: str
    atr: str  # hex; empty on removal


class CardWatcher:
    """Watches every reader (or the ones named); get(timeout) returns the next CardEvent or None.

    A card already in a reader when the watcher starts is reported as inserted. If pcscd goes away,
    `error` holds the CardError and the watcher stops.
    """

    def __init__(self, readers: list[str] | None = None):
        self.only = readers
        self.events: queue.Queue[CardEvent] = queue.Queue()
        self.error: CardError | None = None
        self._context = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> "CardWatcher":
        from smartcard import scard

        hresult, self._context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
        if hresult != scard.SCARD_S_SUCCESS:
            raise PcscdNotRunningError()
        self._thread = threading.Thread(target=self._run, name="card-watcher", daemon=True)
        self._thread.start()
        return self

    def get(self, timeout: float) -> CardEvent | None:
        try:
            return self.events.get(timeout=timeout)
        except queue.Empty:
            return None

    def stop(self) -> None:
        from smartcard import scard

        self._stop.set()
        if self._context is not None:
            scard.SCardCancel(self._context)
        if self._thread is not None:
            self._thread.join(5)
        if self._context is not None:
            scard.SCardReleaseContext(self._context)
            self._context = None

    def __enter__(self) -> "CardWatcher":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _reader_names(self) -> list[str]:
        from smartcard import scard

        hresult, names = scard.SCardListReaders(self._context, [])
        if hresult in (scard.SCARD_E_NO_READERS_AVAILABLE,):
            return []
        if hresult != scard.SCARD_S_SUCCESS:
            raise _Stopped(hresult)
        return [n for n in names if self.only is None or n in self.only]

    def _run(self) -> None:
        from smartcard import scard

        present: dict[str, bool] = {}
        states: list = []
        try:
            while not self._stop.is_set():
                names = self._reader_names()
                known = {s[0] for s in states}
                states = [s for s in states if s[0] in names] + [
                    (n, scard.SCARD_STATE_UNAWARE) for n in names if n not in known
                ]
                if not states:
                    if self._stop.wait(POLL_MS / 1000):
                        return
                    continue
                hresult, new_states = scard.SCardGetStatusChange(self._context, POLL_MS, states)
                if hresult in (scard.SCARD_E_TIMEOUT, scard.SCARD_E_UNKNOWN_READER):
                    continue
                if hresult == scard.SCARD_E_CANCELLED:
                    return
                if hresult != scard.SCARD_S_SUCCESS:
                    raise _Stopped(hresult)
                for name, event_state, atr in new_states:
                    now = bool(event_state & scard.SCARD_STATE_PRESENT)
                    if now != present.get(name, False):
                        present[name] = now
                        kind: Literal["inserted", "removed"] = "inserted" if now else "removed"
                        self.events.put(CardEvent(kind, name, bytes(atr).hex() if now else ""))
                states = [(n, s & ~scard.SCARD_STATE_CHANGED) for n, s, _ in new_states]
        except _Stopped as exc:
            if not self._stop.is_set():
                self.error = card_error(exc.hresult)


class _Stopped(Exception):
    def __init__(self, hresult: int):
        super().__init__(hresult)
        self.hresult = hresult
