"""The one exception root of terminal/."""


class TillError(Exception):
    """The till could not do what was asked; the text says why and what to do."""


class JournalError(TillError):
    """The till's journal could not be read or written."""
