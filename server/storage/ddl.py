"""SQLite DDL in PostgreSQL's spelling, for the tables whose schema is written once for both engines."""

from __future__ import annotations

import re


def postgres_schema(sqlite_schema: str) -> str:
    """SQLite DDL in PostgreSQL's spelling: identity ids (INSERT ... RETURNING id on both), BIGINT columns
    that refer to them, no WITHOUT ROWID, lower(x) where SQLite indexes x COLLATE NOCASE. Flags stay
    INTEGER 0/1 so rows read the same on both."""
    sql = sqlite_schema.replace("INTEGER PRIMARY KEY", "BIGSERIAL PRIMARY KEY").replace(") WITHOUT ROWID;", ");")
    sql = re.sub(r"\b(\w+_id|merged_into) INTEGER\b", r"\1 BIGINT", sql)
    return re.sub(r"\((\w+) COLLATE NOCASE\)", r"(lower(\1))", sql)
