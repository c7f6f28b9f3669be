"""Head office's files on disk: the database and its backups private (0600), a backup never through a link
nor left half-written, an archive to import read only when it is a regular file of bounded size."""

import os
import sqlite3

import pytest
from click.testing import CliRunner

from loyalty.cli import main
from programme import archive as archive_format
from server.storage.backup import backup, restore
from server.storage.desk_db import open_db
from server.errors import StoreError
from server.ingest.store import Store

from .test_store import ingest, till_messages

from ..fixtures.files import mode

pytestmark = pytest.mark.usefixtures("usual_umask")


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_the_server_database_and_its_wal_files_are_private(tmp_path):
    store = Store(tmp_path / "server.db")
    ingest(store, till_messages(tmp_path, 2))
    assert {name: mode(tmp_path / name) for name in ("server.db", "server.db-wal", "server.db-shm")} == {
        "server.db": 0o600,
        "server.db-wal": 0o600,
        "server.db-shm": 0o600,
    }
    store.close()


def test_the_desk_database_is_private(tmp_path):
    open_db(tmp_path / "desk.db").close()
    assert mode(tmp_path / "desk.db") == 0o600


def test_an_older_world_readable_database_is_made_private_when_opened(tmp_path):
    db = tmp_path / "server.db"
    old = sqlite3.connect(db)
    old.execute("PRAGMA journal_mode=WAL")
    old.execute("CREATE TABLE t (x)")
    os.chmod(db, 0o644)
    for side in ("-wal", "-shm"):
        os.chmod(f"{db}{side}", 0o644)
    store = Store(db)
    assert {name: mode(f"{db}{name}") for name in ("", "-wal", "-shm")} == {"": 0o600, "-wal": 0o600, "-shm": 0o600}
    store.close()
    old.close()


def test_a_backup_is_private(tmp_path):
    store = Store(tmp_path / "server.db")
    ingest(store, till_messages(tmp_path, 3))
    result = invoke("server", "backup", "--db", tmp_path / "server.db", tmp_path / "copy.db")
    assert result.exit_code == 0, result.output
    assert mode(tmp_path / "copy.db") == 0o600
    store.close()


def test_a_restored_database_is_private(tmp_path):
    Store(tmp_path / "server.db").close()
    backup(tmp_path / "server.db", tmp_path / "copy.db")
    assert restore(tmp_path / "copy.db", tmp_path / "restored.db")["tickets"] == 0
    assert mode(tmp_path / "restored.db") == 0o600


@pytest.mark.parametrize("points_to", ["elsewhere.db", "missing.db"])
def test_a_backup_never_writes_through_a_symlink(tmp_path, points_to):
    Store(tmp_path / "server.db").close()
    elsewhere = tmp_path / "elsewhere.db"
    elsewhere.write_bytes(b"not yours")
    (tmp_path / "copy.db").symlink_to(tmp_path / points_to)
    result = invoke("server", "backup", "--db", tmp_path / "server.db", tmp_path / "copy.db")
    assert result.exit_code == 1
    assert result.output.splitlines()[-1] == (
        f"Error: {tmp_path / 'copy.db'} is a symbolic link: give the path of "
        "a new file, a backup is never written through a link"
    )
    assert elsewhere.read_bytes() == b"not yours" and not (tmp_path / "missing.db").exists()


def test_a_failed_backup_leaves_nothing_behind(tmp_path):
    (tmp_path / "server.db").write_bytes(b"this is not a database" * 100)
    before = sorted(os.listdir(tmp_path))
    result = invoke("server", "backup", "--db", tmp_path / "server.db", tmp_path / "copy.db")
    assert result.exit_code == 1
    assert result.output.splitlines()[-1] == (
        f"Error: cannot back up {tmp_path / 'server.db'}: file is not a database; give the server's --db"
    )
    assert sorted(os.listdir(tmp_path)) == before


def test_a_backup_refused_by_its_integrity_check_leaves_nothing_behind(tmp_path, monkeypatch):
    Store(tmp_path / "server.db").close()
    before = sorted(os.listdir(tmp_path))
    monkeypatch.setattr("server.storage.backup.INTEGRITY_CHECK", "SELECT 'page 7: broken'")
    with pytest.raises(StoreError) as refused:
        backup(tmp_path / "server.db", tmp_path / "copy.db")
    assert str(refused.value) == f"the backup {tmp_path / 'copy.db'} failed its integrity check: page 7: broken"
    assert sorted(os.listdir(tmp_path)) == before


def test_a_failed_restore_leaves_nothing_behind(tmp_path):
    (tmp_path / "copy.db").write_bytes(b"this is not a database" * 100)
    before = sorted(os.listdir(tmp_path))
    result = invoke("server", "restore", "--db", tmp_path / "restored.db", tmp_path / "copy.db")
    assert result.exit_code == 1
    assert result.output == (
        f"Error: cannot restore {tmp_path / 'copy.db'}: file is not a database; "
        "give a file written by `loyalty server backup`\n"
    )
    assert sorted(os.listdir(tmp_path)) == before


def test_import_closures_refuses_what_is_not_a_regular_file(tmp_path):
    Store(tmp_path / "server.db").close()
    result = invoke("server", "import-closures", "--db", tmp_path / "server.db", "/dev/zero")
    assert result.exit_code == 1
    assert result.output == (
        "Error: /dev/zero is not a regular file: give an archive written by `loyalty till archive`\n"
    )


def test_import_closures_refuses_an_oversized_archive_before_reading_it(tmp_path):
    Store(tmp_path / "server.db").close()
    huge = tmp_path / "huge.jsonl"
    with open(huge, "wb") as out:  # sparse: 4 GiB announced, nothing written
        out.truncate(4 << 30)
    (tmp_path / "huge.jsonl.sig").write_bytes(b"{}")
    result = invoke("server", "import-closures", "--db", tmp_path / "server.db", huge)
    assert result.exit_code == 1
    assert result.output == (
        f"Error: {huge} is 4,294,967,296 bytes, more than the 268,435,456 an archive may have: "
        "archive a day at a time (`loyalty till archive --period YYYY-MM-DD`)\n"
    )


def test_import_closures_refuses_an_oversized_signature(tmp_path):
    Store(tmp_path / "server.db").close()
    (tmp_path / "n.jsonl").write_bytes(b"{}\n")
    (tmp_path / "n.jsonl.sig").write_bytes(b" " * 70_000)
    result = invoke("server", "import-closures", "--db", tmp_path / "server.db", tmp_path / "n.jsonl")
    assert result.exit_code == 1
    assert result.output == (
        f"Error: {tmp_path / 'n.jsonl.sig'} is 70,000 bytes, more than the 65,536 a signature "
        "may have: give the .sig file written with the archive by `loyalty till archive`\n"
    )


def test_the_archive_size_limit_is_a_module_constant(tmp_path, monkeypatch):
    monkeypatch.setattr(archive_format, "MAX_ARCHIVE_BYTES", 10)
    Store(tmp_path / "server.db").close()
    (tmp_path / "n.jsonl").write_bytes(b"x" * 11)
    result = invoke("server", "import-closures", "--db", tmp_path / "server.db", tmp_path / "n.jsonl")
    assert result.output.startswith(f"Error: {tmp_path / 'n.jsonl'} is 11 bytes, more than the 10 an archive")
