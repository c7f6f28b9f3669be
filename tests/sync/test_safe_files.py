"""sync.safe_files on real files: private modes whatever the umask, no write through a link, bounded reads."""

import os

import pytest

from sync.safe_files import (
    UnsafeFileError,
    connect_private,
    create_private,
    new_private_file,
    private_database,
    read_regular,
    write_private,
)

from ..fixtures.files import mode

pytestmark = pytest.mark.usefixtures("usual_umask")


def test_a_new_private_file_is_0600_and_never_an_existing_one(tmp_path):
    os.close(create_private(tmp_path / "a"))
    assert mode(tmp_path / "a") == 0o600
    with pytest.raises(FileExistsError):
        create_private(tmp_path / "a")
    (tmp_path / "link").symlink_to(tmp_path / "missing")
    with pytest.raises(FileExistsError):
        create_private(tmp_path / "link")
    assert not (tmp_path / "missing").exists()


def test_a_private_database_keeps_its_wal_files_private(tmp_path):
    conn = connect_private(tmp_path / "x.db")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE t (x)")
    assert [mode(tmp_path / n) for n in ("x.db", "x.db-wal", "x.db-shm")] == [0o600, 0o600, 0o600]
    conn.close()


def test_a_database_behind_a_dangling_link_is_refused(tmp_path):
    (tmp_path / "x.db").symlink_to(tmp_path / "gone.db")
    with pytest.raises(UnsafeFileError) as refused:
        private_database(tmp_path / "x.db")
    assert str(refused.value) == (
        f"{tmp_path / 'x.db'} is a symbolic link to a missing file: remove the link, "
        "or create the database where it points"
    )


def test_a_database_in_a_missing_folder_is_left_to_sqlite(tmp_path):
    private_database(tmp_path / "no" / "x.db")
    assert not (tmp_path / "no").exists()


def test_a_failed_block_leaves_nothing_and_a_good_one_places_the_file(tmp_path):
    with pytest.raises(RuntimeError), new_private_file(tmp_path / "out", "an export") as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("disk full")
    assert os.listdir(tmp_path) == []
    write_private(tmp_path / "out", b"whole", "an export")
    assert ((tmp_path / "out").read_bytes(), mode(tmp_path / "out"), os.listdir(tmp_path)) == (b"whole", 0o600, ["out"])
    with pytest.raises(UnsafeFileError) as refused:
        write_private(tmp_path / "out", b"again", "an export", overwrite=False)
    assert str(refused.value) == f"{tmp_path / 'out'} exists already: choose a new file name"


def test_a_pipe_is_refused_without_waiting_for_a_writer(tmp_path):
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(UnsafeFileError) as refused:
        read_regular(tmp_path / "pipe", 10, "a file", "give a file")
    assert str(refused.value) == f"{tmp_path / 'pipe'} is not a regular file: give a file"


def test_a_file_within_its_bound_is_read_and_one_past_it_refused(tmp_path):
    (tmp_path / "f").write_bytes(b"x" * 10)
    assert read_regular(tmp_path / "f", 10, "a file", "give a file") == b"x" * 10
    with pytest.raises(UnsafeFileError) as refused:
        read_regular(tmp_path / "f", 9, "a file", "give a file", "cut it")
    assert str(refused.value) == f"{tmp_path / 'f'} is 10 bytes, more than the 9 a file may have: cut it"


def test_a_socket_is_refused_with_what_to_give(tmp_path):
    import socket

    server = socket.socket(socket.AF_UNIX)
    server.bind(str(tmp_path / "sock"))
    try:
        with pytest.raises(UnsafeFileError) as refused:
            read_regular(tmp_path / "sock", 10, "a file", "give a file")
    finally:
        server.close()
    assert str(refused.value) == f"cannot read {tmp_path / 'sock'}: No such device or address; give a file"
