import pytest

from programme.errors import MoneyError
from programme.money import format_cents, parse_euros


@pytest.mark.parametrize("text, cents", [("12.34", 1234), ("12,3", 1230), ("7", 700), ("-0.05", -5)])
def test_parse_euros(text, cents):
    assert parse_euros(text) == cents
    assert parse_euros(format_cents(cents)) == cents


def test_more_than_two_decimals_is_refused():
    with pytest.raises(MoneyError, match="'1.234' is not an amount in euros: write it like 12.34"):
        parse_euros("1.234")
