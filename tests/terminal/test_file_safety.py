"""The till's files on disk: the journal (and its WAL files) and the archives it exports are private (0600);
an archive is never written through a link nor left half-written, and is read only when it is a regular file."""

import os

import pytest

from programme.ticket import make_line
from terminal.journal import Journal
from terminal.sale import sell
from tests.fixtures.closing import TILL, close, run, sold_till

from ..fixtures.files import mode

CARD = "2900000000018"

pytestmark = pytest.mark.usefixtures("usual_umask")


def test_the_journal_and_its_wal_files_are_private(tmp_path):
    with Journal(tmp_path / "till.db", TILL) as journal:
        sell(journal, [make_line("3017620422003", 3, 250)], CARD)
        assert {name: mode(tmp_path / name) for name in ("till.db", "till.db-wal", "till.db-shm")} == {
            "till.db": 0o600,
            "till.db-wal": 0o600,
            "till.db-shm": 0o600,
        }


@pytest.fixture
def closed_till(tmp_path, monkeypatch):
    till = sold_till(tmp_path, monkeypatch)
    close(till, "close-month", "--month", "2026-11")
    return till


def archive_args(till, out):
    return (
        "till",
        "archive",
        "--terminal",
        TILL,
        "--db",
        till["db"],
        "--key",
        till["key"],
        "--period",
        "2026-11",
        "--out",
        out,
    )


def test_an_archive_and_its_signature_are_private(closed_till):
    out = closed_till["tmp"] / "nov.jsonl"
    run(*archive_args(closed_till, out))
    assert (mode(out), mode(f"{out}.sig")) == (0o600, 0o600)


def test_an_archive_is_never_written_through_a_symlink(closed_till):
    tmp = closed_till["tmp"]
    (tmp / "elsewhere").write_bytes(b"not yours")
    (tmp / "nov.jsonl").symlink_to(tmp / "elsewhere")
    before = sorted(os.listdir(tmp))
    result = run(*archive_args(closed_till, tmp / "nov.jsonl"), ok=False)
    assert result.exit_code == 1
    assert result.output == (
        f"Error: {tmp / 'nov.jsonl'} is a symbolic link: give the path of a new file, "
        "an archive is never written through a link\n"
    )
    assert (tmp / "elsewhere").read_bytes() == b"not yours" and sorted(os.listdir(tmp)) == before


def test_verify_archive_refuses_what_is_not_a_regular_file():
    result = run("till", "verify-archive", "/dev/zero", ok=False)
    assert result.exit_code == 1
    assert result.output == (
        "Error: /dev/zero is not a regular file: give an archive written by `loyalty till archive`\n"
    )
