import pytest

from programme.cardnumber import check_digit, make_card_number, mask_card_number, validate_card_number
from programme.errors import CardNumberError


def test_check_digit_of_known_ean13():
    # 4006381333931 is the textbook EAN-13 example.
    assert check_digit("400638133393") == 1
    assert make_card_number("290000000001") == "2900000000018"


def test_valid_number_is_returned_clean():
    assert validate_card_number(" 2900000000018 ") == "2900000000018"


@pytest.mark.parametrize(
    "number, message",
    [
        (
            "2900000000019",
            "card number 2900000000019 has a wrong check digit: expected 8, got 9; "
            "check the number typed or scan the card again",
        ),
        (
            "290000000001",
            "card number 290000000001 has 12 digits, expected 13: scan the card again or type all 13 digits",
        ),
        (
            "29000000000A8",
            "card number '29000000000A8' must contain digits only: scan the card again or type its 13 digits",
        ),
        ("4006381333931", "card number 4006381333931 is not one of our loyalty cards (prefix 29 expected)"),
    ],
)
def test_bad_numbers_are_refused_with_what_to_do(number, message):
    with pytest.raises(CardNumberError) as exc:
        validate_card_number(number)
    assert str(exc.value) == message


def test_mask_keeps_last_four():
    assert mask_card_number("2900000000018") == "*********0018"
