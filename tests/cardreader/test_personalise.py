"""Writing at the welcome desk: a blank card is personalised, locked, and reads back verified at a till."""

import datetime as dt

import pytest

from cardreader.errors import CardLockedError, InvalidCardNumberError
from cardreader.reader import CardReader
from cardreader.writer import personalise


def test_personalise_a_blank_card_then_read_it_back(card_slot, issuer_key):
    desk = CardReader(issuer_key.public_key(), reader=card_slot.reader)
    card = card_slot.insert(None)
    written = personalise(desk, "2900000000025", issuer_key, dt.date(2026, 11, 2), generation=2, wait=5)
    assert written.number == "2900000000025" and written.verified and written.issued == "2026-11-02"
    assert card.application.locked

    with pytest.raises(CardLockedError) as caught:
        personalise(desk, "2900000000032", issuer_key, wait=5)
    assert str(caught.value) == "this card is already personalised and locked: use a blank card"

    card_slot.remove(card)
    card.insert()
    till = CardReader(issuer_key.public_key(), reader=card_slot.reader)
    again = till.read(wait=5)
    assert (again.number, again.generation, again.issued, again.verified) == ("2900000000025", 2, "2026-11-02", True)


def test_a_bad_number_is_never_written(card_slot, issuer_key):
    card = card_slot.insert(None)
    with pytest.raises(InvalidCardNumberError):
        personalise(CardReader(issuer_key.public_key(), reader=card_slot.reader), "2900000000026", issuer_key)
    assert card.application.data is None and card.apdus == 0
