"""`loyalty office sql`: one read-only query over the archive's views; anything else refused, as DuckDB parses it."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from loyalty.cli import main
from server.analytics import archive
from server.analytics.archive_db import QueryRefused, ask
from server.storage.connection import open_connection

from ...fixtures.headoffice import build_known_set

ALLOWED = "give one query: SELECT, WITH ... SELECT, FROM, VALUES, DESCRIBE, SHOW or SUMMARIZE"


@pytest.fixture
def office(tmp_path):
    db = tmp_path / "office.db"
    build_known_set(db)
    conn = open_connection(db)
    archive.export(conn, tmp_path / "office.archive")
    conn.close()
    return db


def sql(*args):
    return CliRunner().invoke(main, ["office", "sql", *args], env={"LOYALTY_DB": None})


def test_a_query_answers_as_a_table_or_json(office):
    query = "SELECT store, count(*) AS tickets, sum(total_cents) AS cents FROM tickets GROUP BY store ORDER BY store"
    result = sql("--db", str(office), query)
    assert result.exit_code == 0, result.output
    assert "S001" in result.output and "105000" in result.output and result.output.endswith("2 row(s)\n")
    result = sql("--db", str(office), "--json", query)
    assert json.loads(result.output) == [
        {"store": "S001", "tickets": 4, "cents": 105000},
        {"store": "S002", "tickets": 9, "cents": 30000},
    ]
    result = sql(
        "--db",
        str(office),
        "--json",
        "WITH l AS (SELECT * FROM ledger) SELECT count(*) AS n, "
        "sum(points) AS points FROM l JOIN tickets t ON t.id = l.ticket_id WHERE t.month = '2026-01'",
    )
    assert json.loads(result.output) == [{"n": 13, "points": 1950}]


@pytest.mark.parametrize(
    "query, message",
    [
        (
            "INSERT INTO tickets SELECT * FROM tickets",
            f"INSERT statements are refused: the archive is read only; {ALLOWED}",
        ),
        (
            "COPY (SELECT * FROM tickets) TO '/tmp/out.csv'",
            f"COPY statements are refused: the archive is read only; {ALLOWED}",
        ),
        ("ATTACH 'other.db' AS other", f"ATTACH statements are refused: the archive is read only; {ALLOWED}"),
        ("PRAGMA version", f"PRAGMA statements are refused: the archive is read only; {ALLOWED}"),
        ("SELECT 1; DROP VIEW tickets", f"2 statements given: {ALLOWED}"),
        ("SELECT count(*) FROM tickets; SELECT 2", f"2 statements given: {ALLOWED}"),
        ("CREATE TABLE t AS SELECT 1", f"CREATE statements are refused: the archive is read only; {ALLOWED}"),
        ("SET enable_external_access = true", f"SET statements are refused: the archive is read only; {ALLOWED}"),
        ("  ", f"no query given: {ALLOWED}"),
    ],
)
def test_anything_but_one_query_is_refused_with_what_to_give(office, query, message):
    result = sql("--db", str(office), query)
    assert result.exit_code == 1
    assert result.output == f"Error: {message}\n"


def test_a_query_reads_no_file_outside_the_archive(office, tmp_path):
    outside = tmp_path / "secret.csv"
    outside.write_text("a\n1\n")
    with pytest.raises(archive.ArchiveError) as refused:
        ask(office.with_name("office.archive"), f"SELECT * FROM read_csv('{outside}')")
    assert str(refused.value).startswith(
        f'the query failed: Permission Error: Cannot access file "{outside}" - '
        "file system operations are disabled by configuration"
    )


def test_a_query_that_does_not_parse_says_so(office):
    with pytest.raises(QueryRefused, match="^the query does not parse: Parser Error: syntax error at or near"):
        ask(office.with_name("office.archive"), "SELEC 1")


def test_no_archive_yet_says_to_export(tmp_path):
    db = tmp_path / "new.db"
    build_known_set(db)
    result = sql("--db", str(db), "SELECT 1")
    assert result.exit_code == 1
    assert result.output == (
        f"Error: {(tmp_path / 'new.archive').resolve()} is not an archive (no _archive.json): "
        "run `loyalty office export` first\n"
    )


def test_the_archive_can_be_named_instead_of_the_database(office):
    result = sql("--archive", str(office.with_name("office.archive")), "--json", "SELECT count(*) AS n FROM lines")
    assert json.loads(result.output) == [{"n": 13}]
    result = sql("SELECT 1")
    assert result.exit_code == 2 and result.output.endswith(
        "Error: give --db DB (the archive is beside it) or --archive DIR\n"
    )
