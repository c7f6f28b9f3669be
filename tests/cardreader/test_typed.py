"""The fallback: typed or scanned numbers get the same checks and the same result type as a chip read."""

import pytest

from cardreader.errors import BlockedCardError, InvalidCardNumberError
from cardreader.identity import CardIdentity
from cardreader.typed import card_from_input


def test_good_typed_and_scanned_numbers():
    assert card_from_input("2900000000018") == CardIdentity("2900000000018", "typed", verified=False)
    scanned = card_from_input("]E02900000000018\r\n", source="barcode")
    assert scanned == CardIdentity("2900000000018", "barcode")
    assert card_from_input(" 290 0000 000018 ").number == "2900000000018"


@pytest.mark.parametrize(
    "raw, message",
    [
        (
            "2900000000017",
            "card number 2900000000017 has a wrong check digit: expected 8, got 7; "
            "check the number typed or scan the card again",
        ),
        ("4006381333931", "card number 4006381333931 is not one of our loyalty cards (prefix 29 expected)"),
        (
            "290000000001",
            "card number 290000000001 has 12 digits, expected 13: scan the card again or type all 13 digits",
        ),
        (
            "29000000000180",
            "card number 29000000000180 has 14 digits, expected 13: scan the card again or type all 13 digits",
        ),
        (
            "29000000O0018",
            "card number '29000000O0018' must contain digits only: scan the card again or type its 13 digits",
        ),
    ],
)
def test_refused_numbers_say_what_is_wrong(raw, message):
    with pytest.raises(InvalidCardNumberError) as caught:
        card_from_input(raw)
    assert str(caught.value) == message


def test_hot_listed_number_is_refused():
    with pytest.raises(BlockedCardError) as caught:
        card_from_input("2900000000018", source="barcode", hotlist={"2900000000018"})
    assert str(caught.value) == (
        "card *********0018 is blocked (on the hot-list): do not accept it; refer the customer to the welcome desk"
    )
