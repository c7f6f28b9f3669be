"""Errors of the welcome desk (customers, cards, corrections, users): all under server.errors.ServerError."""

from server.errors import ServerError


class DeskError(ServerError):
    """A desk action was refused; the text says why and what to do. Nothing was written."""


class NotFound(DeskError):
    """The customer, card or user asked for does not exist."""


class InvalidInput(DeskError):
    """A field of a form or request is missing or malformed."""


class Conflict(DeskError):
    """The action clashes with what is stored (duplicate card, merge into itself, balance below zero)."""


class LoginRefused(DeskError):
    """Wrong name or password, or too many failed attempts."""
