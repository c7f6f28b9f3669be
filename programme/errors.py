"""The one exception root of programme/: every domain error says what was wrong and what to do."""


class ProgrammeError(ValueError):
    """A domain rule was broken."""


class CardNumberError(ProgrammeError):
    """A card number is not a valid loyalty card number."""


class TicketError(ProgrammeError):
    """A ticket or one of its lines is not valid."""


class MoneyError(ProgrammeError):
    """An amount could not be read as euros and cents."""
