"""How much head office answers one till: a token bucket of requests per till, and a cap on the distinct
cards a till may ask about in a window (a till asks about a card when it is presented there; a till that
asks about card after card is enumerating them, and is refused).

In memory, per answering process (server.ingest.uplink): a till talking to several processes (MQTT 5 shared
subscriptions) gets each process's allowance. Timing constants are module constants tests patch.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict

from sync.requests import BalanceRequest, ReleaseRequest, Request, ReserveRequest

REQUESTS_PER_MINUTE = 60  # sustained, per till: a customer a minute asks a balance, a reservation, a ticket...
REQUEST_BURST = 20  # at once, per till (the bucket's size)
CARDS_PER_WINDOW = 30  # distinct cards a till may ask about (balance, reservation) in CARD_WINDOW_S
CARD_WINDOW_S = 600.0
MAX_TILLS = 20_000  # tills remembered per process; the least recently heard is forgotten past it


class RequestLimits:
    """`refusal(terminal, request)`: None when head office answers, else the message of its refusal."""

    def __init__(self, clock=time.monotonic):
        self.clock = clock
        self._lock = threading.Lock()
        self._buckets: OrderedDict[str, list[float]] = OrderedDict()  # terminal -> [tokens, last refill]
        self._cards: dict[str, dict[str, float]] = {}  # terminal -> card -> last asked

    def refusal(self, terminal: str, request: Request) -> str | None:
        if isinstance(request, ReleaseRequest):  # frees points: never refused
            return None
        now = self.clock()
        with self._lock:
            if not self._take(terminal, now):
                return (
                    f"too many requests from till {terminal}: head office answers at most {REQUEST_BURST} at "
                    f"once and {REQUESTS_PER_MINUTE} a minute per till; wait a few seconds and ask again"
                )
            card = getattr(request, "card", None) if isinstance(request, (BalanceRequest, ReserveRequest)) else None
            if card is not None and not self._card_allowed(terminal, card, now):
                return (
                    f"too many different cards asked from till {terminal}: head office answers about at most "
                    f"{CARDS_PER_WINDOW} cards per till in {CARD_WINDOW_S / 60:g} minutes, each presented at "
                    "the till; the balance is shown offline, try again in a few minutes"
                )
        return None

    def _take(self, terminal: str, now: float) -> bool:
        bucket = self._buckets.get(terminal)
        if bucket is None:
            bucket = self._buckets[terminal] = [float(REQUEST_BURST), now]
            if len(self._buckets) > MAX_TILLS:
                forgotten, _ = self._buckets.popitem(last=False)
                self._cards.pop(forgotten, None)
        self._buckets.move_to_end(terminal)
        tokens = min(float(REQUEST_BURST), bucket[0] + (now - bucket[1]) * REQUESTS_PER_MINUTE / 60.0)
        bucket[1] = now
        if tokens < 1.0:
            bucket[0] = tokens
            return False
        bucket[0] = tokens - 1.0
        return True

    def _card_allowed(self, terminal: str, card: str, now: float) -> bool:
        seen = self._cards.setdefault(terminal, {})
        for old in [c for c, at in seen.items() if now - at > CARD_WINDOW_S]:
            del seen[old]
        if card not in seen and len(seen) >= CARDS_PER_WINDOW:
            return False
        seen[card] = now
        return True
