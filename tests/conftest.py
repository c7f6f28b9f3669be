"""Shared fixtures: real Mosquitto, pcscd + vpcd, PostgreSQL, headless Chromium; short timing constants."""

import pytest

from sync import sender

from .fixtures.broker_dirs import reachable, secure_broker  # noqa: F401 - fixtures
from .fixtures.browser import browser  # noqa: F401 - fixture
from .fixtures.files import usual_umask  # noqa: F401 - fixture
from .fixtures.desk import desk, desk_engine, fast_argon2, office  # noqa: F401 - fixtures (desk_engine: the desk on

# SQLite unless a module asks for both)
from .fixtures.headoffice import office_target  # noqa: F401 - fixture
from .fixtures.languages import compiled_catalogs, english, french_by_default  # noqa: F401 - fixtures
from .fixtures.mqtt import mosquitto  # noqa: F401 - fixture
from .fixtures.pcsc import card_slot, issuer_key, pcscd, pcscd_service  # noqa: F401 - fixtures
from .fixtures.postgres import postgres_server, postgres_url  # noqa: F401 - fixtures
from .fixtures.stores import store  # noqa: F401 - fixture


@pytest.fixture(scope="session")
def head_office_key(tmp_path_factory):
    """Head office's signing key for the whole run (made as `loyalty server keys` makes it)."""
    from sync.signed import Signer, make_key

    path, pub_path, _ = make_key(tmp_path_factory.mktemp("head-office") / "head-office.key")
    return Signer.load(path), path, pub_path


@pytest.fixture(autouse=True)
def head_office_signing(monkeypatch, head_office_key):
    """Publishers sign with the test key and readers trust it, as on a provisioned chain."""
    from sync.signed import PUBLIC_KEY_ENV, SIGNING_KEY_ENV

    _, path, pub_path = head_office_key
    monkeypatch.setenv(SIGNING_KEY_ENV, str(path))
    monkeypatch.setenv(PUBLIC_KEY_ENV, str(pub_path))


@pytest.fixture(autouse=True)
def short_timing(monkeypatch):
    """Tests shorten waits by patching the modules' constants, never by sleeping."""
    monkeypatch.setattr(sender, "ACK_TIMEOUT", 1.0)
    monkeypatch.setattr(sender, "POLL_INTERVAL", 0.05)
