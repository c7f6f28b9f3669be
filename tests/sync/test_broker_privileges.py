"""`loyalty broker config` as root: Mosquitto drops to an unprivileged account that can read what it needs,
secrets stay in 0600 files, and a broker password never has to appear on a command line."""

from __future__ import annotations

import json
import os
import pwd
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from loyalty.cli import main
from sync.broker_config import read_password
from sync.broker_url import parse_broker_url
from sync.errors import BrokerUrlError
from sync.mosquitto import Mosquitto, free_port, mosquitto_binary
from sync.mqtt import make_client

from ..fixtures.components import require


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def owner(path: Path) -> str:
    return pwd.getpwuid(path.stat().st_uid).pw_name


def mode(path: Path) -> str:
    return oct(path.stat().st_mode & 0o777)


@pytest.mark.timeout(60)
def test_as_root_mosquitto_runs_as_its_own_account_and_secrets_are_private(reachable, tmp_path):
    require(os.geteuid() == 0, "root", "run the tests as root to check what root's `loyalty broker config` writes")
    require(mosquitto_binary() is not None, "mosquitto", "run `make setup` (apt-get install mosquitto)")
    bridge_password = tmp_path / "bridge-password"
    bridge_password.write_text("bridge-secret\n")
    bridge_password.chmod(0o600)
    out, port = reachable / "broker", free_port()
    made = run(
        "broker",
        "config",
        "--out",
        out,
        "--till",
        "S001-T01",
        "--port",
        port,
        "--bridge-to",
        "127.0.0.1:9",
        "--store",
        "S001",
        "--bridge-user",
        "bridge-S001",
        "--bridge-password-file",
        bridge_password,
    )
    assert made.exit_code == 0, made.output
    conf = (out / "mosquitto.conf").read_text()
    assert "user mosquitto\n" in conf and "user root" not in conf
    assert "remote_password bridge-secret" in conf
    for name in ("mosquitto.conf", "passwords", "broker.key"):
        assert (owner(out / name), mode(out / name)) == ("mosquitto", "0o600"), name
    assert (owner(out / "ca.key"), mode(out / "ca.key")) == ("root", "0o600")  # the broker never needs it
    assert (owner(out / "credentials"), mode(out / "credentials")) == ("root", "0o700")
    broker = Mosquitto(out / "data", port=port, config_path=out / "mosquitto.conf").start()
    try:
        status = Path(f"/proc/{broker.proc.pid}/status").read_text()
        uid = next(line.split()[1] for line in status.splitlines() if line.startswith("Uid:"))
        assert pwd.getpwuid(int(uid)).pw_name == "mosquitto"
        url = parse_broker_url(
            f"mqtts://S001-T01@127.0.0.1:{port}?ca={out / 'ca.crt'}&password-file={out / 'credentials' / 'S001-T01'}"
        )
        client, connected = make_client(url, "till-S001-T01"), threading.Event()
        client.on_connect = lambda c, u, f, rc, p: connected.set() if not rc.is_failure else None
        client.connect(url.host, url.port)
        client.loop_start()
        try:
            assert connected.wait(10), "a till could not connect to the unprivileged broker"
        finally:
            client.disconnect()
            client.loop_stop()
    finally:
        broker.stop()


def test_mosquitto_is_never_configured_to_run_as_root(reachable):
    refused = run("broker", "config", "--out", reachable / "broker", "--run-as", "root")
    assert refused.exit_code == 1
    assert refused.output == (
        "Error: Mosquitto must not run as root: give --run-as an unprivileged account "
        "(the mosquitto package makes `mosquitto`)\n"
    )


def test_an_unreachable_folder_is_refused_before_anything_is_written(reachable):
    require(os.geteuid() == 0, "root", "only root's config changes owner")
    hidden = reachable / "private"
    hidden.mkdir(mode=0o700)
    refused = run("broker", "config", "--out", hidden / "broker", "--till", "S001-T01")
    assert refused.exit_code == 1
    assert refused.output == (
        f"Error: Mosquitto, running as mosquitto, could not reach {hidden / 'broker'}: "
        f"{hidden} (mode 700, owner root) is closed to it; choose --out under a folder it "
        "can enter, e.g. /etc/loyalty/broker\n"
    )
    assert not (hidden / "broker").exists()


def test_a_broker_password_comes_from_a_file_or_the_environment(tmp_path, monkeypatch):
    secret = tmp_path / "password"
    secret.write_text("s3cret\n")
    secret.chmod(0o600)
    assert parse_broker_url(f"mqtts://loyalty-server@ho:8883?password-file={secret}").password == "s3cret"
    monkeypatch.setenv("LOYALTY_BROKER_PASSWORD_FILE", str(secret))
    assert parse_broker_url("mqtts://loyalty-server@ho:8883").password == "s3cret"
    monkeypatch.delenv("LOYALTY_BROKER_PASSWORD_FILE")
    monkeypatch.setenv("LOYALTY_BROKER_PASSWORD", "from-env")
    assert parse_broker_url("mqtts://loyalty-server@ho:8883").password == "from-env"
    assert parse_broker_url("mqtt://127.0.0.1:1883").password is None  # no account: no password
    secret.chmod(0o644)
    with pytest.raises(BrokerUrlError) as loose:
        parse_broker_url(f"mqtts://loyalty-server@ho:8883?password-file={secret}")
    assert str(loose.value) == (
        f"broker password file {secret} is readable by others (mode 644): make it private with `chmod 600 {secret}`"
    )
    with pytest.raises(BrokerUrlError) as missing:
        parse_broker_url(f"mqtts://loyalty-server@ho:8883?password-file={tmp_path / 'none'}")
    assert str(missing.value) == f"broker password file {tmp_path / 'none'} does not exist"


def test_the_config_summary_names_no_password(reachable):
    made = run("broker", "config", "--out", reachable / "broker", "--till", "S001-T01")
    assert made.exit_code == 0, made.output
    summary = json.loads(made.output)
    assert read_password(reachable / "broker", "S001-T01") not in made.output
    assert summary["password_files"] == str(reachable / "broker" / "credentials")
