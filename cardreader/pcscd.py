"""Run pcscd (the PC/SC daemon) for tests, benches and demos: started in the foreground, stopped by its pid.

Only one pcscd can run on a machine (its socket is /run/pcscd/pcscd.comm), so a running one that we
did not start is reused, never killed. pcscd loads vsmartcard's vpcd driver from /etc/reader.conf.d/vpcd,
which adds the virtual readers "Virtual PCD 00 00" (port 35963) and "Virtual PCD 00 01" (35964).
"""

from __future__ import annotations

import fcntl
import glob
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import TextIO

from .errors import CardError, PcscdNotRunningError, card_error

START_TIMEOUT = 15.0
STOP_TIMEOUT = 15.0
PID_FILE = Path("/run/pcscd/pcscd.pid")
VIRTUAL_READER = "Virtual PCD 00 00"


class ReaderLock:
    """One user of the virtual readers at a time: test sessions and benches share pcscd and vpcd's fixed ports.

    An flock on a file in /tmp; the kernel drops it if the holder dies.
    """

    PATH = "/tmp/loyalty-pcsc.lock"

    def __init__(self, path: str | None = None):
        self.path = path or self.PATH
        self.file: TextIO | None = None

    def acquire(self, timeout: float) -> bool:
        self.file = file = open(self.path, "a+")
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    file.close()
                    self.file = None
                    return False
                time.sleep(0.1)  # another process holds the readers; polled with a deadline

    def release(self) -> None:
        if self.file is not None:
            fcntl.flock(self.file, fcntl.LOCK_UN)
            self.file.close()
            self.file = None


def pcscd_binary() -> str | None:
    return shutil.which("pcscd") or next(
        (p for p in ("/usr/sbin/pcscd", "/usr/local/sbin/pcscd") if os.path.exists(p)), None
    )


def vpcd_installed() -> bool:
    return bool(
        glob.glob("/usr/lib/pcsc/drivers/serial/libifdvpcd.so*")
        or glob.glob("/usr/lib/*/pcsc/drivers/serial/libifdvpcd.so*")
    )


def running_pid() -> int | None:
    """The pid of a running pcscd, from its pid file, or None."""
    try:
        pid = int(PID_FILE.read_text().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


def readers_or_none() -> list[str] | None:
    from .reader import list_readers

    try:
        return list_readers()
    except PcscdNotRunningError:
        return None


def wait_card_state(reader: str, present: bool, timeout: float) -> bool:
    """Block until pcscd reports a card present (or absent) in `reader`; False after `timeout` seconds.

    Waits on SCardGetStatusChange, so it returns as soon as pcscd notices, without sleeping.
    """
    from smartcard import scard

    hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    if hresult != scard.SCARD_S_SUCCESS:
        raise PcscdNotRunningError()
    try:
        deadline = time.monotonic() + timeout
        states = [(reader, scard.SCARD_STATE_UNAWARE)]
        while True:
            remaining = int(max(0.0, deadline - time.monotonic()) * 1000)
            hresult, states = scard.SCardGetStatusChange(context, remaining, states)
            if hresult not in (scard.SCARD_S_SUCCESS, scard.SCARD_E_TIMEOUT):
                raise card_error(hresult, reader=reader)
            _, event_state, _ = states[0]
            if bool(event_state & scard.SCARD_STATE_PRESENT) == present:
                return True
            if hresult == scard.SCARD_E_TIMEOUT or remaining == 0:
                return False
            states = [(name, state & ~scard.SCARD_STATE_CHANGED) for name, state, _ in states]
    finally:
        scard.SCardReleaseContext(context)


def wait_reader_event(reader: str, timeout: float) -> bool:
    """Block until pcscd reports any new event on `reader` (its event counter moves); False on timeout.

    After a card vanished in the middle of a command, pcscd marks the reader empty at once but its
    event thread only notices on its next poll (~0.4 s); a card inserted before that poll goes unseen.
    """
    from smartcard import scard

    hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    if hresult != scard.SCARD_S_SUCCESS:
        raise PcscdNotRunningError()
    try:
        hresult, states = scard.SCardGetStatusChange(context, 0, [(reader, scard.SCARD_STATE_UNAWARE)])
        if hresult != scard.SCARD_S_SUCCESS:
            raise card_error(hresult, reader=reader)
        current = [(name, state & ~scard.SCARD_STATE_CHANGED) for name, state, _ in states]
        hresult, _ = scard.SCardGetStatusChange(context, int(timeout * 1000), current)
        return hresult == scard.SCARD_S_SUCCESS
    finally:
        scard.SCardReleaseContext(context)


class Pcscd:
    """pcscd, started by us (owned) or found running (reused). stop() only ever stops what we started."""

    def __init__(self, log_path: str | Path | None = None):
        self.log_path = Path(log_path) if log_path else None
        self.proc: subprocess.Popen | None = None

    @property
    def owned(self) -> bool:
        return self.proc is not None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else running_pid()

    def ensure(self) -> "Pcscd":
        """Reuse a running pcscd that lists the virtual reader, else start one."""
        if self.proc is not None and self.proc.poll() is not None:
            self.proc = None  # ours died
        if running_pid() is not None or readers_or_none() is not None:
            if VIRTUAL_READER not in (readers_or_none() or []):
                raise CardError(
                    f"a pcscd we did not start is running without the reader {VIRTUAL_READER!r}: "
                    "install vsmartcard-vpcd and restart pcscd"
                )
            return self
        return self.start()

    def start(self) -> "Pcscd":
        binary = pcscd_binary()
        if binary is None:
            raise CardError("pcscd is not installed: run `make setup` (apt-get install pcscd vsmartcard-vpcd)")
        out = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL
        try:
            self.proc = subprocess.Popen(
                [binary, "--foreground", "--info"],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        finally:
            if not isinstance(out, int):  # our log file, not subprocess.DEVNULL
                out.close()
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                code, self.proc = self.proc.returncode, None
                raise CardError(f"pcscd exited with code {code} on start (log: {self.log_path})")
            if VIRTUAL_READER in (readers_or_none() or []):
                return self
            time.sleep(0.05)
        self.stop()
        raise CardError(f"pcscd did not list {VIRTUAL_READER!r} within {START_TIMEOUT:g} s (log: {self.log_path})")

    def stop(self) -> None:
        """SIGTERM our pcscd by pid and wait for it (it can take seconds); SIGKILL if it will not go."""
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
