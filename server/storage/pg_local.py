"""A throwaway PostgreSQL (Debian's package) in a directory of its own: for tests and benchmarks.

`initdb` then `postgres` on a free loopback port, its unix socket in the same directory, never the
system cluster. PostgreSQL refuses to run as root: as root, it runs as the `postgres` system user
(created by the package) through `runuser`, in a directory that user owns.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from sync.mosquitto import free_port

from server.errors import ServerError

START_TIMEOUT = 30.0
STOP_TIMEOUT = 20.0
SYSTEM_USER = "postgres"


def postgres_bin_dir() -> Path | None:
    """The newest /usr/lib/postgresql/<version>/bin holding initdb and postgres, or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"), key=lambda p: int(Path(p).parts[-3]))
    return Path(found[-1]).parent if found else None


def can_run() -> bool:
    if postgres_bin_dir() is None:
        return False
    if os.geteuid() != 0:
        return True
    try:
        pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        return False
    return shutil.which("runuser") is not None


class LocalPostgres:
    """start() runs initdb (once) and postgres; stop() ends it by its pid; url names a database."""

    def __init__(self, base_dir: str | Path | None = None, port: int | None = None, durable: bool = True):
        """`durable=False` turns fsync off (tests: nothing there needs to survive a power cut)."""
        bin_dir = postgres_bin_dir()
        if bin_dir is None:
            raise ServerError("PostgreSQL is not installed: run `make setup` (or apt-get install postgresql)")
        self.bin_dir = bin_dir
        # /tmp/... is traversable by the postgres user; pytest's tmp_path (mode 0700, root's) is not.
        self.dir = Path(tempfile.mkdtemp(prefix="loyalty-pg-", dir=base_dir))
        self.data = self.dir / "data"
        self.port = port or free_port()
        self.durable = durable
        self.user = SYSTEM_USER if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name
        self.proc: subprocess.Popen | None = None
        self.pid: int | None = None

    def _as_owner(self, *argv: str) -> list[str]:
        return ["runuser", "-u", SYSTEM_USER, "--", *argv] if os.geteuid() == 0 else list(argv)

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{dbname}"

    def start(self) -> LocalPostgres:
        if os.geteuid() == 0:
            os.chmod(self.dir, 0o755)
            shutil.chown(self.dir, SYSTEM_USER, SYSTEM_USER)
        if not self.data.exists():
            done = subprocess.run(
                self._as_owner(
                    str(self.bin_dir / "initdb"),
                    "-D",
                    str(self.data),
                    "-U",
                    self.user,
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--locale=C.UTF-8",
                    "--no-instructions",
                    *([] if self.durable else ["--no-sync"]),
                ),
                capture_output=True,
                text=True,
            )
            if done.returncode:
                raise ServerError(f"initdb failed with code {done.returncode}: {done.stderr.strip()}")
        options = [
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            f"unix_socket_directories={self.dir}",
            "-c",
            "max_connections=50",
            "-c",
            "shared_buffers=128MB",
        ]
        if not self.durable:
            options += ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
        log = open(self.dir / "postgres.log", "ab")
        self.proc = subprocess.Popen(
            self._as_owner(str(self.bin_dir / "postgres"), "-D", str(self.data), "-p", str(self.port), *options),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ServerError(f"postgres exited with code {self.proc.returncode} at start: {self.log_tail()}")
            ready = subprocess.run([str(self.bin_dir / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port)])
            if ready.returncode == 0:
                self.pid = int((self.data / "postmaster.pid").read_text().split()[0])
                return
            time.sleep(0.05)
        raise ServerError(f"postgres did not accept connections within {START_TIMEOUT} s: {self.log_tail()}")

    def log_tail(self) -> str:
        path = self.dir / "postgres.log"
        return path.read_text(errors="replace").strip()[-600:] if path.exists() else ""

    def stop(self, immediate: bool = False) -> None:
        """Fast shutdown (SIGINT to the postmaster's pid): sessions end, nothing is lost.

        `immediate` (SIGQUIT): no checkpoint, for a cluster about to be removed."""
        if self.pid is not None:
            try:
                os.kill(self.pid, signal.SIGQUIT if immediate else signal.SIGINT)
            except ProcessLookupError:
                pass
        if self.proc is not None:
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                if self.pid is not None:
                    os.kill(self.pid, signal.SIGKILL)
                self.proc.wait(STOP_TIMEOUT)
        self.proc = self.pid = None

    def remove(self) -> None:
        self.stop(immediate=True)
        shutil.rmtree(self.dir, ignore_errors=True)

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def __enter__(self) -> LocalPostgres:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.remove()
