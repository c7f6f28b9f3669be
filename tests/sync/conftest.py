"""Fixtures of the sync tests."""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest


@pytest.fixture
def reachable():
    """A folder the account Mosquitto drops to can enter (pytest's tmp folders are closed, mode 700, when the
    tests run as root): where the generated broker configuration goes."""
    base = Path(tempfile.mkdtemp(prefix="loyalty-broker-"))
    base.chmod(0o755)
    yield base
    shutil.rmtree(base, ignore_errors=True)
