"""Shared fixtures: real Mosquitto, pcscd + vpcd, PostgreSQL, headless Chromium; short timing constants."""
import pytest

from sync import sender

from .fixtures.browser import browser  # noqa: F401 - fixture
from .fixtures.desk import desk_engine  # noqa: F401 - fixture: the desk on SQLite unless a module asks for both
from .fixtures.mqtt import mosquitto  # noqa: F401 - fixture
from .fixtures.pcsc import card_slot, issuer_key, pcscd, pcscd_service  # noqa: F401 - fixtures
from .fixtures.postgres import postgres_server, postgres_url  # noqa: F401 - fixtures


@pytest.fixture(autouse=True)
def short_timing(monkeypatch):
    """Tests shorten waits by patching the modules' constants, never by sleeping."""
    monkeypatch.setattr(sender, "ACK_TIMEOUT", 1.0)
    monkeypatch.setattr(sender, "POLL_INTERVAL", 0.05)
