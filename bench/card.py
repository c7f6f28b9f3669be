"""Chip card reads through the real stack (pcscd + vpcd + pyscard + our virtual card).

Measured in the same run:
- inserted -> verified: from the virtual card connecting to vpcd to CardReader.read() returning the
  verified number (pcscd's presence polling, CardRequest, connect, SELECT, READ DATA, Ed25519 verify);
- present -> verified: the same read on a card pcscd already knows is there;
- baseline: the raw pyscard SELECT round trip on an open connection (no verification, no connect).
Cards alternate between the two virtual readers so one reader's removal overlaps the other's insertion.
"""

from __future__ import annotations

import random
import sys
import time

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from rich.progress import Progress

from cardreader import apdu
from cardreader.pcscd import Pcscd, ReaderLock, wait_card_state
from cardreader.reader import CardReader
from cardreader.virtual_card import VirtualCard, loyalty_card

from .common import summary_ms, table

READERS = [("Virtual PCD 00 00", 35963), ("Virtual PCD 00 01", 35964)]
NUMBER = "2900000000018"
LOCK_TIMEOUT = 300.0  # test sessions using the readers take about a minute
POLL_S = 0.4  # pcscd polls a reader without insertion events (vpcd) about this often


def run(quick: bool = False) -> dict:
    # Each insertion costs up to one pcscd poll of vpcd (~0.4 s) and a removal: 100 keep the run near a minute.
    reads = 20 if quick else 200
    insertions = 20 if quick else 100
    key = Ed25519PrivateKey.generate()
    lock = ReaderLock()
    if not lock.acquire(LOCK_TIMEOUT):
        raise SystemExit(f"bench/card.py: the virtual readers stayed busy ({lock.path}) for {LOCK_TIMEOUT:g} s")
    try:
        daemon = Pcscd().ensure()
        owned = daemon.owned
        try:
            with Progress(transient=True) as progress:
                inserted = _inserted_to_verified(key, insertions, progress)
                present, raw = _present_and_raw(key, reads, progress)
        finally:
            daemon.stop()
    finally:
        lock.release()
    return {
        "reads": reads,
        "insertions": insertions,
        "inserted_to_verified": summary_ms(inserted),
        "present_to_verified": summary_ms(present),
        "raw_select": summary_ms(raw),
        "pcscd": "started by the bench" if owned else "already running",
    }


def _inserted_to_verified(key, reads: int, progress) -> list[float]:
    task = progress.add_task("card inserted -> verified number", total=reads)
    samples, cards = [], [None, None]
    phase = random.Random(7)
    for i in range(reads):
        slot = i % 2
        name, port = READERS[slot]
        if cards[slot] is not None:
            cards[slot].remove()
        wait_card_state(name, False, 10)
        # pcscd just polled this reader (it saw the removal): insert at a random point of its poll
        # cycle, as a customer would, instead of always one full cycle early.
        time.sleep(phase.uniform(0, POLL_S))
        reader = CardReader(key.public_key(), reader=name)
        card = VirtualCard(loyalty_card(NUMBER, key), port=port)
        started = time.perf_counter()
        card.insert()
        identity = reader.read(wait=10)
        samples.append(time.perf_counter() - started)
        assert identity.verified and identity.number == NUMBER
        cards[slot] = card
        progress.advance(task)
    for card in cards:
        if card is not None:
            card.remove()
    return samples


def _present_and_raw(key, reads: int, progress) -> tuple[list[float], list[float]]:
    name, port = READERS[0]
    wait_card_state(name, False, 10)
    task = progress.add_task("present card -> verified, raw SELECT", total=2 * reads)
    present, raw = [], []
    with VirtualCard(loyalty_card(NUMBER, key), port=port) as _card:
        wait_card_state(name, True, 10)
        reader = CardReader(key.public_key(), reader=name)
        reader.read(wait=5)  # warm-up: the first read in a process also lists readers and loads pyscard's modules
        for _ in range(reads):
            started = time.perf_counter()
            reader.read(wait=5)
            present.append(time.perf_counter() - started)
            progress.advance(task)
        with reader.connected(5) as connection:
            command = apdu.select()
            for _ in range(reads):
                started = time.perf_counter()
                connection.transmit(command)
                raw.append(time.perf_counter() - started)
                progress.advance(task)
    return present, raw


def markdown(result: dict) -> str:
    def row(label, s, note=""):
        return (label, s["p50_ms"], s["p99_ms"], s["mean_ms"], s["n"], note)

    inserted, present = result["inserted_to_verified"], result["present_to_verified"]
    verdict = "met" if present["p99_ms"] <= 30 else "NOT met"
    rows = [
        row("raw pyscard SELECT round trip, open connection (baseline)", result["raw_select"]),
        row(
            "present card -> verified number (CardRequest, connect, SELECT, READ, Ed25519)",
            result["present_to_verified"],
            "target p99 <= 30 ms",
        ),
        row(
            "card inserted -> verified number",
            inserted,
            "includes pcscd noticing the card (it polls vpcd about every 0.4 s); "
            "inserted at a random point of that cycle",
        ),
    ]
    return (
        f"## Card reads (pcscd + vpcd + pyscard, our virtual card; pcscd {result['pcscd']})\n\n"
        + table(rows, ("path", "p50 ms", "p99 ms", "mean ms", "n", "note"))
        + "\n\n"
        f"Target p99 <= 30 ms: {verdict} for the till's own work once pcscd reports the card "
        f"(p99 {present['p99_ms']} ms). Not met from insertion with the virtual reader: pcscd polls vpcd "
        "for presence (the driver has no insertion event) about every 0.4 s, so a card waits up to that "
        "long to be seen (p50 ~0.2 s); a USB CCID reader "
        "signals insertion by interrupt instead.\n"
    )


if __name__ == "__main__":
    print(markdown(run("--quick" in sys.argv)))
