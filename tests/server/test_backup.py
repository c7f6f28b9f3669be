import json

from click.testing import CliRunner

from loyalty.cli import main
from server.ingest.store import Store

from .test_store import ingest, till_messages


def test_backup_while_ingesting_then_restore(tmp_path):
    db = tmp_path / "server.db"
    store = Store(db)
    messages = till_messages(tmp_path, 40)
    ingest(store, messages[:30])
    result = CliRunner().invoke(main, ["server", "backup", "--db", str(db), str(tmp_path / "copy.db")])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output.splitlines()[-1])["tickets"] == 30
    ingest(store, messages[30:])  # the live database moves on; the backup does not
    before = Store(tmp_path / "copy.db").stats()
    result = CliRunner().invoke(
        main, ["server", "restore", "--db", str(tmp_path / "restored.db"), str(tmp_path / "copy.db")]
    )
    assert result.exit_code == 0, result.output
    restored = Store(tmp_path / "restored.db").stats()
    assert restored == before and restored["tickets"] == 30


def test_backup_and_restore_never_overwrite(tmp_path):
    db = tmp_path / "server.db"
    Store(db).close()
    (tmp_path / "taken.db").write_bytes(b"")
    result = CliRunner().invoke(main, ["server", "backup", "--db", str(db), str(tmp_path / "taken.db")])
    assert result.exit_code == 1
    assert (
        f"Error: {tmp_path / 'taken.db'} exists already: choose a new file name, a backup never overwrites"
        in result.output
    )
    result = CliRunner().invoke(main, ["server", "restore", "--db", str(db), str(tmp_path / "taken.db")])
    assert f"Error: {db} exists: stop the server and move it aside first, a restore never overwrites" in result.output
