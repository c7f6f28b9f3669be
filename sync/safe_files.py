"""Files holding personal data or secrets, made private (0600) and never through a link, and files from
outside read only when regular and small enough. Used by the till and head office alike.

SQLite gives a database's -wal, -shm and -journal files the mode of the database file itself, so a
database made private here keeps its side files private too.
"""

from __future__ import annotations

import errno
import os
import sqlite3
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import SyncError

PRIVATE_MODE = 0o600
SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")
_NEW = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


class UnsafeFileError(SyncError):
    """A file could not be written or read safely; the text says why and what to give instead."""


def create_private(path: str | Path) -> int:
    """Open a new file that only its owner may read or write (whatever the umask); never an existing
    file, never through a symbolic link (FileExistsError then). Returns the descriptor, open for writing."""
    fd = os.open(path, _NEW, PRIVATE_MODE)
    os.fchmod(fd, PRIVATE_MODE)
    return fd


def _tighten(path: str) -> None:
    """Take the group's and others' permissions off a file of ours (one made by an older version)."""
    try:
        st = os.stat(path)
        if stat.S_ISREG(st.st_mode) and st.st_uid == os.geteuid() and st.st_mode & 0o077:
            os.chmod(path, stat.S_IMODE(st.st_mode) & 0o700)
    except OSError:  # gone meanwhile, or a read-only file system: SQLite's own open says what matters
        pass


def private_database(path: str | Path) -> None:
    """Make a SQLite database private before SQLite opens it: a new one is created empty with mode 0600,
    an existing one of ours (and its side files) loses the group's and others' permissions."""
    name = str(path)
    if name in ("", ":memory:") or name.startswith("file:"):
        return
    try:
        os.close(create_private(name))
        return
    except FileExistsError:
        if os.path.islink(name) and not os.path.exists(name):
            raise UnsafeFileError(
                f"{name} is a symbolic link to a missing file: remove the link, or create the database where it points"
            ) from None
    except OSError:  # no such folder, no permission: sqlite3.connect reports it as it always did
        return
    for candidate in (name, *(name + side for side in SQLITE_SIDE_FILES)):
        _tighten(candidate)


def connect_private(path: str | Path, **kwargs) -> sqlite3.Connection:
    """sqlite3.connect, the database made private first (private_database)."""
    private_database(path)
    return sqlite3.connect(str(path), **kwargs)


def refuse_link(path: str | Path, what: str) -> None:
    """UnsafeFileError when `path` is a symbolic link (dangling or not): `what` is never written through one."""
    if os.path.islink(path):
        raise UnsafeFileError(
            f"{path} is a symbolic link: give the path of a new file, {what} is never written through a link"
        )


def _remove(path: Path) -> None:
    for name in (str(path), *(str(path) + side for side in SQLITE_SIDE_FILES)):
        try:
            os.unlink(name)
        except FileNotFoundError:
            pass


def _place(tmp: Path, path: Path, overwrite: bool) -> None:
    if overwrite:
        os.replace(tmp, path)
        return
    try:
        os.link(tmp, path)  # fails if anything, a link included, took the name meanwhile
    except FileExistsError:
        raise UnsafeFileError(f"{path} exists already: choose a new file name") from None
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.EMLINK):
            raise
        if os.path.lexists(path):  # a file system without hard links: checked, then renamed
            raise UnsafeFileError(f"{path} exists already: choose a new file name") from None
        os.rename(tmp, path)
        return
    os.unlink(tmp)


@contextmanager
def new_private_file(path: str | Path, what: str, overwrite: bool = False) -> Iterator[Path]:
    """A private temporary file beside `path` for the block to fill; put in place as `path` when the block
    ends without error, removed (its SQLite side files too) when it raises: `path` is whole or absent.

    Refuses a `path` that is a symbolic link, and (overwrite=False) one that exists."""
    path = Path(path)
    refuse_link(path, what)
    if not overwrite and os.path.lexists(path):
        raise UnsafeFileError(f"{path} exists already: choose a new file name")
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")  # O_EXCL|O_NOFOLLOW, 0600
    os.fchmod(fd, PRIVATE_MODE)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        _place(tmp, path, overwrite)
    except BaseException:
        _remove(tmp)
        raise


def write_private(path: str | Path, data: bytes, what: str, overwrite: bool = True) -> None:
    """Write `data` to a private file at `path` at once (new_private_file): whole or not at all."""
    with new_private_file(path, what, overwrite) as tmp:
        fd = os.open(tmp, os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())


def read_regular(path: str | Path, limit: int, what: str, advice: str, smaller: str | None = None) -> bytes:
    """The bytes of a regular file of at most `limit` bytes: a device, a pipe or a larger file is refused
    before being read (and at most limit + 1 bytes are ever read). FileNotFoundError when it is missing.

    `what` names the file in the messages ("an archive"), `advice` says what to give instead, `smaller`
    how to make it smaller (default: `advice`)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)  # a pipe without a writer does not block
    except FileNotFoundError:
        raise
    except OSError as exc:  # a socket, no permission...
        raise UnsafeFileError(f"cannot read {path}: {exc.strerror}; {advice}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise UnsafeFileError(f"{path} is not a regular file: {advice}")
        size = st.st_size
        if size <= limit:
            with os.fdopen(os.dup(fd), "rb") as source:
                data = source.read(limit + 1)
            size = len(data)
        if size > limit:
            raise UnsafeFileError(
                f"{path} is {size:,} bytes, more than the {limit:,} {what} may have: {smaller or advice}"
            )
        return data
    finally:
        os.close(fd)
