"""The one exception root of sync/."""


class SyncError(Exception):
    """Something went wrong moving messages between a till and the server."""


class BrokerUrlError(SyncError):
    """A broker address could not be read."""


class CodecError(SyncError):
    """A message could not be decoded or validated; the text says what was wrong with it."""

    def __init__(self, reason: str, terminal: str | None = None, seq: int | None = None):
        super().__init__(reason)
        self.reason = reason
        self.terminal = terminal
        self.seq = seq


class ConnectError(SyncError):
    """The broker refused or could not be reached."""


class SyncTimeout(SyncError):
    """The server did not ack everything in time."""
