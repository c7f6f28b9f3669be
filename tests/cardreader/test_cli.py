"""`loyalty card ...` as a person runs it: separate processes, the real pcscd, a local issuer key."""

import json
import os
import subprocess
import sys

import pytest

LOYALTY = [sys.executable, "-m", "loyalty"]


@pytest.fixture
def env(tmp_path):
    return {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "config")}


def loyalty(*args, env, timeout=30) -> subprocess.CompletedProcess:
    return subprocess.run([*LOYALTY, *args], capture_output=True, text=True, timeout=timeout, env=env)


def start_virtual(*args, env) -> subprocess.Popen:
    return subprocess.Popen(
        [*LOYALTY, "card", "virtual", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )


def stop(proc: subprocess.Popen) -> tuple[str, str]:
    proc.terminate()
    out, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err
    return out, err


@pytest.mark.timeout(60)
def test_done_when_virtual_card_then_read_prints_verified_json(card_slot, env):
    """`loyalty card virtual --number 2900000000018 &` then `loyalty card read --wait 5`."""
    virtual = start_virtual("--number", "2900000000018", env=env)
    try:
        result = loyalty("card", "read", "--wait", "5", env=env)
    finally:
        out, _ = stop(virtual)
    assert result.returncode == 0, result.stderr
    card = json.loads(result.stdout)
    assert card["number"] == "2900000000018" and card["verified"] is True and card["source"] == "chip"
    events = [json.loads(line)["event"] for line in out.splitlines()]
    assert events == ["card_inserted", "card_removed"]


@pytest.mark.timeout(90)
def test_issuer_key_personalise_then_read_with_the_public_key(card_slot, env, tmp_path):
    keys = tmp_path / "issuer"
    made = loyalty("card", "issuer-key", "new", "--out", str(keys), env=env)
    assert made.returncode == 0, made.stderr
    assert (keys / "issuer.key").stat().st_mode & 0o777 == 0o600
    again = loyalty("card", "issuer-key", "new", "--out", str(keys), env=env)
    assert again.returncode == 1 and "already exists" in again.stderr

    blank = start_virtual("--blank", env=env)
    try:
        written = loyalty(
            "card",
            "personalise",
            "--number",
            "2900000000025",
            "--key",
            str(keys / "issuer.key"),
            "--wait",
            "5",
            env=env,
        )
        assert written.returncode == 0, written.stderr
        read = loyalty("card", "read", "--wait", "5", "--issuer-public-key", str(keys / "issuer.pub"), env=env)
        assert read.returncode == 0, read.stderr
        assert json.loads(read.stdout)["number"] == "2900000000025"
        # a till configured with another issuer's public key refuses the card
        other = {**env, "XDG_CONFIG_HOME": str(tmp_path / "other")}
        missing = loyalty("card", "read", "--wait", "5", env=other)
        assert missing.returncode == 1 and "cannot read the issuer public key" in missing.stderr
        made = loyalty("card", "issuer-key", "new", "--out", str(tmp_path / "other" / "loyalty"), env=env)
        assert made.returncode == 0
        wrong = loyalty("card", "read", "--wait", "5", env=other)
        assert wrong.stderr.strip() == (
            "Error: card *********0025 is damaged (its signature does not verify): "
            "do not accept it; refer the customer to the welcome desk for a new card"
        )
    finally:
        stop(blank)


def test_typed_and_readers_commands(pcscd, env, tmp_path):
    hot = tmp_path / "hot.txt"
    hot.write_text("# lost 2026-11-20\n2900000000032\n")
    ok = loyalty("card", "typed", "--scanned", "2900000000018", env=env)
    assert json.loads(ok.stdout) == {
        "number": "2900000000018",
        "source": "barcode",
        "issued": None,
        "generation": None,
        "verified": False,
    }
    blocked = loyalty("card", "typed", "2900000000032", "--hotlist", str(hot), env=env)
    assert blocked.returncode == 1
    assert blocked.stderr.strip() == (
        "Error: card *********0032 is blocked (on the hot-list): do not accept it; "
        "refer the customer to the welcome desk"
    )
    readers = loyalty("card", "readers", env=env)
    assert "Virtual PCD 00 00" in readers.stdout.splitlines()
