"""A chip card inserted into the real reader stack (pcscd + vpcd + virtual card) identifies the POS's basket."""

from __future__ import annotations

import time

import pytest

from terminal.posapi.serve import Reader

from .conftest import problem_of

NUMBER = "2900000000018"


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


@pytest.mark.timeout(60)
def test_the_card_read_on_the_tills_reader_identifies_the_basket(pos, card_slot, issuer_key):
    reader = Reader(card_slot.reader, pos.host, public_key=issuer_key.public_key())
    pos.host.reader_state = lambda: reader.state
    reader.start()
    try:
        wait_for(lambda: reader.state.endswith(": ready"), 10, "the reader to be ready")
        assert pos.get("/status").get_json()["reader"] == "Virtual PCD 00 00: ready"
        basket = pos.open()
        assert problem_of(pos.post(f"/baskets/{basket}/identify", {"from_reader": True}))[1] == "no_card_on_reader"
        card = card_slot.insert(NUMBER)
        wait_for(lambda: pos.host.presented is not None, 10, "the chip to be read")
        seen = pos.post(f"/baskets/{basket}/identify", {"from_reader": True})
        assert seen.status_code == 200, seen.get_json()
        assert seen.get_json()["card"]["masked"] == "*********0018"
        card_slot.remove(card)
        wait_for(lambda: pos.host.presented is None, 10, "the reader to see the card go")
        assert problem_of(pos.post(f"/baskets/{basket}/identify", {"from_reader": True}))[1] == "no_card_on_reader"
    finally:
        reader.stop()
