"""A hardened Mosquitto configuration: TLS with the project CA, one account per till, ACLs.

A till (username = its terminal id) may publish only on its own up topic and read only its own
down topics and the shared retained ones; the server reads every up topic and writes the down ones.
Mosquitto never runs as root: written by root, the configuration makes it drop to the `mosquitto`
account (or --run-as), which owns the few files it reads; secrets are 0600 and the CA key stays root's.
"""

from __future__ import annotations

import getpass
import grp
import os
import pwd
import secrets
import stat
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from programme.ticket import TERMINAL_ID

from . import topics
from .errors import SyncError
from .pki import make_ca, make_server_cert

SERVER_USER = "loyalty-server"
ADMIN_USER = "loyalty-admin"
MAX_QUEUED_MESSAGES = 1_000_000
MAX_INFLIGHT_MESSAGES = 100
MAX_PACKET_SIZE = 4 * 1024 * 1024

ACL = f"""\
# Written by `loyalty broker config`. Tills log in with their terminal id as username.
user {SERVER_USER}
topic read {topics.PREFIX}/up/+/tickets
topic read {topics.PREFIX}/up/+/status
topic read {topics.PREFIX}/up/+/requests
topic read {topics.EVENTS_SUBSCRIPTION}
topic read {topics.RULES}
topic write {topics.PREFIX}/down/#

user {ADMIN_USER}
topic write {topics.PREFIX}/down/all/#
topic read {topics.PREFIX}/#

pattern write {topics.PREFIX}/up/%u/tickets
pattern write {topics.PREFIX}/up/%u/status
pattern write {topics.PREFIX}/up/%u/requests
pattern write {topics.PREFIX}/up/%u/events
pattern read {topics.PREFIX}/down/%u/#
pattern read {topics.PREFIX}/down/all/#
"""

CONFIG = """\
# Written by `loyalty broker config`: TLS only, no anonymous client, per-till accounts and ACLs,
# explicit queue and inflight limits (Mosquitto's defaults drop messages silently), persistence.
per_listener_settings false
# Started as root, Mosquitto drops to this unprivileged account, which owns the files it reads
# (passwords, ACL, broker key, this file: mode 600); the CA key is not among them.
user {user}
allow_anonymous false
password_file {dir}/passwords
acl_file {dir}/acl
persistence true
persistence_location {dir}/data/
autosave_interval 1
max_queued_messages {max_queued}
max_inflight_messages {max_inflight}
max_packet_size {max_packet}
log_dest file {dir}/mosquitto.log
connection_messages true
# A till's request and head office's reply are single small packets: without this, Nagle holds each
# until the previous packet's delayed TCP ack (about 40 ms a leg; bench/uplink.py measures it).
set_tcp_nodelay true

listener {port} {host}
cafile {dir}/ca.crt
certfile {dir}/broker.crt
keyfile {dir}/broker.key
tls_version tlsv1.2
"""


@dataclass(frozen=True)
class BrokerConfig:
    directory: Path
    config_file: Path
    ca_file: Path
    port: int
    host: str
    credentials: dict[str, str]  # username -> password, for this run's new accounts only


def _mosquitto_passwd() -> str:
    found = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"
    if not Path(found).exists():
        raise SyncError("mosquitto_passwd is missing: install the mosquitto package (make setup)")
    return found


def run_as_account(run_as: str | None = None) -> pwd.struct_passwd:
    """The account Mosquitto runs as: `run_as`, else `mosquitto` for root, else the current user; never root."""
    name = run_as or ("mosquitto" if os.geteuid() == 0 else getpass.getuser())
    try:
        account = pwd.getpwnam(name)
    except KeyError:
        raise SyncError(
            f"there is no account {name!r} for Mosquitto to run as: install the mosquitto package "
            "(it makes `mosquitto`) or give --run-as an existing unprivileged account"
        ) from None
    if account.pw_uid == 0:
        raise SyncError(
            "Mosquitto must not run as root: give --run-as an unprivileged account "
            "(the mosquitto package makes `mosquitto`)"
        )
    if os.geteuid() != 0 and account.pw_uid != os.geteuid():
        raise SyncError(
            f"only root can give the broker's files to {name}: run the command as root, "
            "or leave --run-as out to run Mosquitto as yourself"
        )
    return account


def _check_reachable(out: Path, account: pwd.struct_passwd) -> None:
    """Refuse a folder whose parents the account cannot enter (Mosquitto would fail to start, or later)."""
    if account.pw_uid == os.geteuid():
        return
    groups = {account.pw_gid} | {g.gr_gid for g in grp.getgrall() if account.pw_name in g.gr_mem}
    for parent in reversed(out.parents):
        if not parent.exists():
            break
        st = parent.stat()
        can_enter = (
            st.st_mode & stat.S_IXOTH
            or (st.st_gid in groups and st.st_mode & stat.S_IXGRP)
            or (st.st_uid == account.pw_uid and st.st_mode & stat.S_IXUSR)
        )
        if not can_enter:
            raise SyncError(
                f"Mosquitto, running as {account.pw_name}, could not reach {out}: {parent} (mode "
                f"{stat.S_IMODE(st.st_mode):o}, owner {pwd.getpwuid(st.st_uid).pw_name}) is closed to "
                "it; choose --out under a folder it can enter, e.g. /etc/loyalty/broker"
            )


def _give(path: Path, account: pwd.struct_passwd, mode: int) -> None:
    path.chmod(mode)
    if account.pw_uid != os.geteuid():
        os.chown(path, account.pw_uid, account.pw_gid)


def write_private(path: Path, text: str) -> None:
    """Write `text` to a file that is mode 600 from its creation (never readable by others, even briefly)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    path.chmod(0o600)


def write_broker_config(
    out: Path,
    terminals: list[str],
    host: str = "127.0.0.1",
    port: int = 8883,
    hostnames: list[str] | None = None,
    run_as: str | None = None,
    bridge: str | None = None,
) -> BrokerConfig:
    """Write config, CA and broker certificate, password file and ACL into `out`.

    New accounts get a random password, written to `out/credentials/NAME` (mode 600) for provisioning;
    existing accounts keep theirs, so the command can be re-run to add tills. Mosquitto runs as
    `run_as_account(run_as)`, which is given the files it reads. `bridge` (bridge_section's text, which
    may hold a password) is appended to the configuration, which is mode 600.
    """
    for terminal in terminals:
        if not TERMINAL_ID.match(terminal):
            raise SyncError(f"terminal id {terminal!r} is not of the form S042-T07 (store, till)")
    account = run_as_account(run_as)
    out = Path(out).resolve()
    _check_reachable(out, account)
    (out / "data").mkdir(parents=True, exist_ok=True)
    creds_dir = out / "credentials"
    creds_dir.mkdir(exist_ok=True)
    creds_dir.chmod(0o700)
    ca_crt, ca_key = make_ca(out)
    make_server_cert(out, hostnames or [host, "localhost"], ca_crt, ca_key)
    passwd_file = out / "passwords"
    passwd_file.touch(mode=0o600)
    passwd_file.chmod(0o600)
    new: dict[str, str] = {}
    tool = _mosquitto_passwd()
    for user in [SERVER_USER, ADMIN_USER, *terminals]:
        cred = creds_dir / user
        if cred.exists():
            continue
        password = secrets.token_urlsafe(24)
        result = subprocess.run([tool, "-b", str(passwd_file), user, password], capture_output=True, text=True)
        if result.returncode != 0:
            raise SyncError(f"mosquitto_passwd failed for {user}: {result.stderr.strip()}")
        cred.write_text(password + "\n")
        cred.chmod(0o600)
        new[user] = password
    (out / "acl").write_text(ACL)
    config_file = out / "mosquitto.conf"
    text = CONFIG.format(
        dir=out,
        user=account.pw_name,
        host=host,
        port=port,
        max_queued=MAX_QUEUED_MESSAGES,
        max_inflight=MAX_INFLIGHT_MESSAGES,
        max_packet=MAX_PACKET_SIZE,
    )
    write_private(config_file, text + ("\n" + bridge if bridge else ""))
    (out / "mosquitto.log").touch()
    # The account Mosquitto runs as reads these, and writes its data and log; nothing else is its.
    out.chmod(0o755)
    for name, mode in (
        ("mosquitto.conf", 0o600),
        ("passwords", 0o600),
        ("acl", 0o600),
        ("broker.key", 0o600),
        ("broker.crt", 0o644),
        ("ca.crt", 0o644),
        ("mosquitto.log", 0o600),
        ("data", 0o700),
    ):
        _give(out / name, account, mode)
    return BrokerConfig(out, config_file, ca_crt, port, host, new)


def read_password(out: Path, user: str) -> str:
    path = Path(out) / "credentials" / user
    if not path.exists():
        raise SyncError(f"no broker account {user!r} in {out}: add it with `loyalty broker config --till {user}`")
    return path.read_text().strip()


BRIDGE = """\
# Written by `loyalty broker config --bridge-to`: this store's broker forwards every till's
# tickets to head office and brings acks, commands and the shared retained topics back.
# While the link is down, tills keep selling and syncing to this broker; the bridge queues.
connection {name}
address {address}
bridge_protocol_version mqttv311
cleansession false
clientid {name}
local_clientid {name}-local
start_type automatic
restart_timeout {restart_base} {restart_cap}
notifications false
try_private true
topic {prefix}/up/# out 1
topic {prefix}/down/# in 1
{auth}"""


def bridge_section(
    store: str,
    address: str,
    username: str | None = None,
    password: str | None = None,
    ca_file: str | None = None,
    restart_base: int = 5,
    restart_cap: int = 60,
) -> str:
    """The Mosquitto bridge from a store's broker (`store` like S042) to head office's at `address` (HOST:PORT)."""
    auth = ""
    if username:
        auth += f"remote_username {username}\nremote_password {password or ''}\n"
    if ca_file:
        auth += f"bridge_cafile {ca_file}\nbridge_insecure false\n"
    return BRIDGE.format(
        name=f"bridge-{store}",
        address=address,
        restart_base=restart_base,
        restart_cap=restart_cap,
        prefix=topics.PREFIX,
        auth=auth,
    )
