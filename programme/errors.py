"""The one exception root of programme/: every domain error says what was wrong and what to do."""


class ProgrammeError(ValueError):
    """A domain rule was broken."""


class CardNumberError(ProgrammeError):
    """A card number is not a valid loyalty card number."""


class TicketError(ProgrammeError):
    """A ticket or one of its lines is not valid."""


class MoneyError(ProgrammeError):
    """An amount could not be read as euros and cents."""


class RulesError(ProgrammeError):
    """A rules file is not valid: the message names the field, the line and what was expected."""


class LedgerError(ProgrammeError):
    """A ledger entry cannot be posted (a cause reused with other content, an unknown card...)."""


class ReturnError(ProgrammeError):
    """A return names lines or quantities the original ticket does not have."""


class RedemptionError(ProgrammeError):
    """Points cannot be redeemed: the balance or the offline daily cap is short."""
