"""Head office's key goes from `loyalty server keys` to each till with `loyalty till provision`; the till then
trusts only messages signed by it."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from loyalty.cli import main
from sync.signed import Signer
from terminal.downlink import apply_hotlist
from terminal.errors import TillError
from terminal.journal import Journal
from terminal.keys import head_office_trust


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_keys_made_once_then_provisioned_to_the_till_which_trusts_only_them(tmp_path, monkeypatch):
    monkeypatch.delenv("LOYALTY_SIGNING_KEY")
    monkeypatch.delenv("LOYALTY_HEAD_OFFICE_KEY")
    key = tmp_path / "private" / "head-office.key"
    made = run("server", "keys", "--out", key)
    assert made.exit_code == 0, made.output
    info = json.loads(made.output)
    assert info == {"key": str(key), "public_key_file": f"{key}.pub", "public_key": info["public_key"]}
    assert key.stat().st_mode & 0o777 == 0o600
    again = run("server", "keys", "--out", key)
    assert again.exit_code == 1
    assert again.output == (
        f"Error: {key} exists already: head office has its key (public key in {key}.pub); "
        "a new key would make every till refuse what head office pushes\n"
    )

    till_keys = tmp_path / "till"
    provisioned = run(
        "till", "provision", "--terminal", "S001-T01", "--key-dir", till_keys, "--head-office-key", f"{key}.pub"
    )
    assert provisioned.exit_code == 0, provisioned.output
    assert json.loads(provisioned.output)["head_office_key"] == str(till_keys / "head-office.pub")
    assert (till_keys / "head-office.pub").read_text() == info["public_key"] + "\n"
    trust = head_office_trust(till_keys / "S001-T01.key")

    with Journal(tmp_path / "till.db", "S001-T01") as journal:
        genuine = Signer.load(key).sign("hotlist", b'{"schema": 1, "cards": [{"card": "2900000000018"}]}')
        assert apply_hotlist(journal.conn, genuine, trust) == 1
        with pytest.raises(TillError) as refused:
            apply_hotlist(journal.conn, b'{"schema": 1, "cards": []}', trust)
        assert str(refused.value) == (
            "hotlist message refused: not signed by head office (not a signed envelope): "
            "the till keeps its previous list"
        )
        assert journal.conn.execute("SELECT card FROM hotlist").fetchall() == [("2900000000018",)]


def test_an_unprovisioned_till_refuses_what_is_pushed_and_says_how_to_fix_it(tmp_path, monkeypatch):
    monkeypatch.delenv("LOYALTY_HEAD_OFFICE_KEY")
    monkeypatch.setenv("LOYALTY_SIGNING_KEY", str(tmp_path / "nowhere.key"))
    trust = head_office_trust(tmp_path / "S001-T01.key")
    with Journal(tmp_path / "till.db", "S001-T01") as journal:
        with pytest.raises(TillError) as refused:
            apply_hotlist(journal.conn, b'{"schema": 1, "cards": []}', trust)
        assert str(refused.value) == (
            f"hotlist message refused: no head-office public key to check it with "
            f"({tmp_path / 'nowhere.key'}.pub); provision with "
            "`loyalty till provision --head-office-key`: the till keeps its previous list"
        )


def test_a_bad_head_office_key_is_refused_at_provisioning(tmp_path):
    bad = tmp_path / "bad.pub"
    bad.write_text("not a key\n")
    refused = run(
        "till", "provision", "--terminal", "S001-T01", "--key-dir", tmp_path / "till", "--head-office-key", bad
    )
    assert refused.exit_code == 1
    assert refused.output == (
        "Error: --head-office-key: 'not a key' is not a base64 Ed25519 public key: give the "
        "content of the .pub file `loyalty server keys` made\n"
    )
    assert not (tmp_path / "till").exists()
