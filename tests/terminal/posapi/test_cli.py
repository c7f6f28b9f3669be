"""`loyalty till pos-token` and `loyalty till serve`: tokens kept as hashes in private files; loopback unless TLS."""

from __future__ import annotations

import datetime
import http.client
import ipaddress
import json
import os
import ssl
import sqlite3
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner

from loyalty.cli import main
from terminal.posapi.tokens import digest

ROOT = Path(__file__).resolve().parents[3]


def run(*args):
    return CliRunner().invoke(main, ["till", *args])


def make_token(tmp_path, pos="POS-1", name="pos-1.token"):
    return run(
        "pos-token",
        "--terminal",
        "S001-T01",
        "--db",
        str(tmp_path / "till.db"),
        "--pos",
        pos,
        "--out",
        str(tmp_path / name),
    )


def test_a_token_is_written_once_to_a_private_file_and_only_its_hash_is_kept(tmp_path, usual_umask):
    result = make_token(tmp_path)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {
        "terminal": "S001-T01",
        "pos": "POS-1",
        "token_file": str(tmp_path / "pos-1.token"),
    }
    token_file = tmp_path / "pos-1.token"
    token = token_file.read_text().strip()
    assert token_file.stat().st_mode & 0o777 == 0o600 and len(token) >= 40
    conn = sqlite3.connect(tmp_path / "till.db")
    try:
        assert conn.execute("SELECT pos, token_sha256 FROM pos_tokens").fetchall() == [("POS-1", digest(token))]
    finally:
        conn.close()
    assert token.encode() not in (tmp_path / "till.db").read_bytes()
    again = make_token(tmp_path)
    assert again.exit_code == 1
    assert f"{token_file} exists: give the path of a new file (a token file is never overwritten)" in again.output
    assert token_file.read_text().strip() == token


def test_a_pos_name_is_checked(tmp_path):
    result = make_token(tmp_path, pos="POS 1")
    assert result.exit_code == 1
    assert "POS name 'POS 1': 1 to 40 letters, digits, dots, dashes or underscores, e.g. POS-1" in result.output
    assert not (tmp_path / "pos-1.token").exists()


def serve(tmp_path, *args):
    return run("serve", "--terminal", "S001-T01", "--db", str(tmp_path / "till.db"), *args)


def test_serve_refuses_other_hosts_without_tls(tmp_path):
    make_token(tmp_path)
    result = serve(tmp_path, "--listen", "0.0.0.0:8765")
    assert result.exit_code == 1
    assert (
        "--listen 0.0.0.0: only loopback (127.0.0.1, ::1) is served without TLS; give --tls-cert and --tls-key "
        "to serve other hosts"
    ) in result.output
    result = serve(tmp_path, "--listen", "somewhere")
    assert "--listen 'somewhere': give HOST:PORT, e.g. 127.0.0.1:8765" in result.output


def test_serve_refuses_to_start_before_any_pos_has_a_token(tmp_path):
    result = serve(tmp_path, "--listen", "127.0.0.1:0")
    assert result.exit_code == 1
    assert (
        f"no POS may call this till yet: make a token with loyalty till pos-token --terminal S001-T01 --db "
        f"{tmp_path / 'till.db'} --pos POS-1 --out pos-1.token"
    ) in result.output


def self_signed(tmp_path):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "till.test")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("till.test"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "till.crt", tmp_path / "till.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    os.chmod(key_path, 0o600)
    return cert_path, key_path


@pytest.mark.timeout(60)
def test_with_tls_the_till_serves_other_hosts_over_https_only(tmp_path):
    make_token(tmp_path)
    cert, key = self_signed(tmp_path)
    env = {**os.environ, "LOYALTY_LANG": "en", "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "loyalty",
            "till",
            "serve",
            "--terminal",
            "S001-T01",
            "--db",
            str(tmp_path / "till.db"),
            "--listen",
            "0.0.0.0:0",
            "--tls-cert",
            str(cert),
            "--tls-key",
            str(key),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,
    )
    try:
        line = proc.stdout.readline()
        assert line, proc.stderr.read()
        url = json.loads(line)["listening"]
        assert url.startswith("https://0.0.0.0:")
        port = url.rsplit(":", 1)[1]
        context = ssl.create_default_context(cafile=str(cert))
        token = (tmp_path / "pos-1.token").read_text().strip()
        request = urllib.request.Request(
            f"https://127.0.0.1:{port}/status", headers={"Authorization": f"Bearer {token}"}
        )
        with urllib.request.urlopen(request, context=context, timeout=10) as answer:
            assert json.load(answer)["terminal"] == "S001-T01"
        plain = http.client.HTTPConnection("127.0.0.1", int(port), timeout=10)
        try:
            with pytest.raises((http.client.HTTPException, OSError)):  # no answer in clear text
                plain.request("GET", "/status")
                plain.getresponse()
        finally:
            plain.close()
    finally:
        proc.terminate()
        proc.communicate(timeout=30)
    assert proc.returncode == 0


def test_serve_says_when_its_address_is_taken(tmp_path):
    import socket

    make_token(tmp_path)
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    try:
        result = serve(tmp_path, "--listen", f"127.0.0.1:{port}")
    finally:
        taken.close()
    assert result.exit_code == 1
    assert (
        f"cannot listen on 127.0.0.1:{port}: Address already in use; stop what listens there or give another --listen"
    ) in result.output
