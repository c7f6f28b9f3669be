"""Loyalty card numbers: 13 digits, EAN-13 check digit, in-store restricted prefix."""

from .errors import CardNumberError

LENGTH = 13
# GS1 keeps prefixes 20-29 for restricted, in-store circulation; the programme uses 29.
DEFAULT_PREFIXES = ("29",)


def check_digit(first_twelve: str) -> int:
    """EAN-13 check digit: weights 3 and 1 alternate from the rightmost data digit."""
    backwards = first_twelve[::-1]
    total = 3 * sum(map(int, backwards[0::2])) + sum(map(int, backwards[1::2]))
    return (10 - total % 10) % 10


def make_card_number(body: str) -> str:
    """Append the check digit to 12 digits."""
    if len(body) != LENGTH - 1 or not body.isdigit():
        raise CardNumberError(f"a card number body is 12 digits, got {body!r}")
    return body + str(check_digit(body))


def validate_card_number(number: str, prefixes: tuple[str, ...] = DEFAULT_PREFIXES) -> str:
    """Return the card number, stripped, or raise CardNumberError saying what is wrong."""
    cleaned = number.strip().replace(" ", "")
    if not cleaned.isdigit():
        raise CardNumberError(
            f"card number {number!r} must contain digits only: scan the card again or type its 13 digits"
        )
    if len(cleaned) != LENGTH:
        raise CardNumberError(
            f"card number {cleaned} has {len(cleaned)} digits, expected {LENGTH}: "
            "scan the card again or type all 13 digits"
        )
    expected = check_digit(cleaned[:-1])
    if int(cleaned[-1]) != expected:
        raise CardNumberError(
            f"card number {cleaned} has a wrong check digit: expected {expected}, got {cleaned[-1]}; "
            "check the number typed or scan the card again"
        )
    if not cleaned.startswith(prefixes):
        raise CardNumberError(
            f"card number {cleaned} is not one of our loyalty cards (prefix {'/'.join(prefixes)} expected)"
        )
    return cleaned


def mask_card_number(number: str) -> str:
    """Receipts show only the last four digits."""
    return "*" * (len(number) - 4) + number[-4:]
