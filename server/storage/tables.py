"""Times written so that SQL compares them as text (the features' tables are made by the numbered migrations,
server.storage.migrations and server.storage.feature_schema)."""

from __future__ import annotations

from datetime import datetime


def iso(moment: datetime) -> str:
    """Times compared as text in SQL: always the same width (microseconds, UTC offset)."""
    return moment.isoformat(timespec="microseconds")
