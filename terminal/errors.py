"""The one exception root of terminal/."""


class TillError(Exception):
    """The till could not do what was asked; the text says why and what to do."""


class BasketError(TillError):
    """A basket action was refused (unknown article, no such line, tender too large...)."""


class RedeemError(TillError):
    """Points could not be redeemed: balance too low, no card, cap reached."""


class CardRefused(TillError):
    """The card may not be used at this till (hot-listed, not a loyalty card)."""


class ReturnError(TillError):
    """A return could not be made: ticket not found, nothing left to return on that line."""
