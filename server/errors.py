"""The one exception root of server/."""


class ServerError(Exception):
    """The server could not do what was asked; the text says why and what to do."""


class StoreError(ServerError):
    """The server's database could not be read or written."""
