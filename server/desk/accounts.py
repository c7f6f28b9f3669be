"""Users of the web app and API: roles, argon2 password hashes, API tokens, rate-limited log-in.

A user's `session_version` is kept in their web session and checked at every request: logging out,
changing or resetting the password and disabling the user bump it, which ends every session of that user
(a copied cookie included)."""

from __future__ import annotations

import hashlib
import math
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from programme.i18n import N_, _

from server.desk import audit
from server.desk.errors import Conflict, InvalidInput, LoginRefused, NotFound
from server.storage.desk_db import transaction, utc_now
from server.storage.sql import by_bytes
from server.storage.connection import Connection

ROLES = ("card_manager", "head_office", "admin", "till")
# A till account only uses the API (hot-list, a card's status and balance) and cannot log in to the pages.
WEB_ROLES = ("card_manager", "head_office", "admin")
USER_NAME = re.compile(r"^[a-z][a-z0-9._-]{1,31}$")
# Log-in throttling, per user name and client address: the first FREE_ATTEMPTS failures cost nothing, then
# each one delays the next try by FIRST_DELAY_S, doubling up to MAX_DELAY_S. A correct password from another
# address (the desk, when an attacker guesses from elsewhere) is never held back.
FREE_ATTEMPTS = 5
FIRST_DELAY_S = 2
MAX_DELAY_S = 15 * 60
FORGET_AFTER = timedelta(hours=24)  # failures older than this are forgotten
CLAIM_TRIES = 20  # compare-and-swap rounds lost to concurrent log-ins before the try is refused
NAME_KEY = 64  # characters of a typed user name kept as the throttle's key (names are at most 32)
WRONG_LOGIN = N_("wrong user name or password")
MIN_PASSWORD = 12  # characters of a password a user chooses (generated ones are longer)
CLI_ACTOR = "loyalty admin"  # who the audit trail names for an action from the command line

_hasher = PasswordHasher()
# Verified when the name is unknown, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash("not a password")


class LoginThrottled(LoginRefused):
    """Too many failed log-ins for this name from this address: try again after `retry_after` seconds."""

    def __init__(self, name: str, retry_after: int):
        self.retry_after = retry_after
        super().__init__(
            _(
                "too many failed log-ins for {name} from this address: try again in {seconds} seconds, "
                "or ask an admin to unlock it"
            ).format(name=name, seconds=retry_after)
        )


@dataclass(frozen=True)
class User:
    id: int
    name: str
    role: str
    session_version: int = 0
    language: str | None = None  # the pages' language this user chose; None: the browser's


def _user(row) -> User:
    return User(row["id"], row["name"], row["role"], row["session_version"], row["language"])


def create_user(conn: Connection, name: str, role: str) -> str:
    """Create a user and return a first password (shown once, never stored in clear)."""
    if not USER_NAME.match(name):
        raise InvalidInput(
            f"user name {name!r} must be 2-32 lower-case letters, digits, '.', '_' or '-', starting with a letter"
        )
    if role not in ROLES:
        raise InvalidInput(f"role {role!r} is not one of {', '.join(ROLES)}")
    password = secrets.token_urlsafe(12)
    with transaction(conn):
        if conn.execute("SELECT 1 FROM users WHERE name = ?", (name,)).fetchone():
            raise Conflict(f"user {name} already exists: choose another name")
        conn.execute(
            "INSERT INTO users (name, role, password_hash, created_at) VALUES (?, ?, ?, ?)",
            (name, role, _hasher.hash(password), utc_now()),
        )
    return password


def list_users(conn: Connection) -> list[dict]:
    return [
        dict(r)
        for r in conn.execute(f"SELECT id, name, role, created_at, active FROM users ORDER BY {by_bytes(conn, 'name')}")
    ]


def get_user(conn: Connection, user_id: int) -> User | None:
    row = conn.execute("SELECT * FROM users WHERE id = ? AND active = 1", (user_id,)).fetchone()
    return _user(row) if row else None


def delay_s(attempts: int) -> int:
    """Seconds before the next try after `attempts` failures in a row."""
    if attempts < FREE_ATTEMPTS:
        return 0
    return min(FIRST_DELAY_S * 2 ** min(attempts - FREE_ATTEMPTS, 32), MAX_DELAY_S)


def _at(when: datetime) -> str:
    """A fixed-width UTC time, so times compare as text in SQL on both engines."""
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _claim(conn, name: str, address: str, now: datetime) -> None:
    """Count this try before its password is checked, or refuse it while the delay runs.

    Atomic without a lock: the count moves by a compare-and-swap (UPDATE ... WHERE attempts = the value
    read), so of concurrent tries at most FREE_ATTEMPTS are checked before the delay starts."""
    for _round in range(CLAIM_TRIES):
        row = conn.execute(
            "SELECT attempts, next_at, last_at FROM login_throttle WHERE name = ? AND address = ?", (name, address)
        ).fetchone()
        if row is None:
            if conn.execute(
                "INSERT OR IGNORE INTO login_throttle (name, address, attempts, next_at, last_at) "
                "VALUES (?, ?, 1, ?, ?)",
                (name, address, _at(now + timedelta(seconds=delay_s(1))), _at(now)),
            ).rowcount:
                return
            continue
        if row["next_at"] > _at(now):
            wait = datetime.strptime(row["next_at"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc) - now
            raise LoginThrottled(name, max(1, math.ceil(wait.total_seconds())))
        attempts = (row["attempts"] if row["last_at"] > _at(now - FORGET_AFTER) else 0) + 1
        if conn.execute(
            "UPDATE login_throttle SET attempts = ?, next_at = ?, last_at = ? "
            "WHERE name = ? AND address = ? AND attempts = ? AND last_at = ?",
            (
                attempts,
                _at(now + timedelta(seconds=delay_s(attempts))),
                _at(now),
                name,
                address,
                row["attempts"],
                row["last_at"],
            ),
        ).rowcount:
            return
    raise LoginThrottled(name, 1)


def log_in(
    conn: Connection,
    name: str,
    password: str,
    address: str,
    now: datetime | None = None,
    roles: tuple[str, ...] = WEB_ROLES,
) -> User:
    """Check a name and password, throttled per name and address (see FREE_ATTEMPTS).

    Only users of `roles` may log in (till accounts use API tokens)."""
    now = now or datetime.now(timezone.utc)
    key = (name[:NAME_KEY], address[:NAME_KEY])
    _claim(conn, *key, now)
    row = conn.execute("SELECT * FROM users WHERE name = ? AND active = 1", (name,)).fetchone()
    try:
        _hasher.verify(row["password_hash"] if row else _DUMMY_HASH, password)
        ok = row is not None
    except (VerificationError, InvalidHashError):
        ok = False
    if not ok:
        raise LoginRefused(_(WRONG_LOGIN))
    with transaction(conn):
        conn.execute(
            "DELETE FROM login_throttle WHERE (name = ? AND address = ?) OR last_at < ?",
            (*key, _at(now - FORGET_AFTER)),
        )  # this pair starts afresh; the table keeps one day
    if row["role"] not in roles:
        raise LoginRefused(
            _("user {name} is a {role} account: it uses the API with a token, not the pages").format(
                name=name, role=row["role"]
            )
        )
    return _user(row)


def unlock(conn: Connection, name: str, actor: str = CLI_ACTOR) -> int:
    """Forget the failed log-ins of user NAME from every address; returns how many addresses were held back."""
    with transaction(conn):
        count = conn.execute("DELETE FROM login_throttle WHERE name = ?", (name,)).rowcount
        audit.record(conn, actor, "unlock", detail={"user": name, "addresses": count})
    return count


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(conn: Connection, name: str) -> str:
    """A new API token for a user, printed once; only its hash is stored."""
    row = conn.execute("SELECT id FROM users WHERE name = ? AND active = 1", (name,)).fetchone()
    if row is None:
        raise NotFound(f"no user {name}: create it first with `loyalty admin create-user {name} --role ROLE`")
    token = secrets.token_urlsafe(32)
    with transaction(conn):
        conn.execute(
            "INSERT INTO api_tokens (token_hash, user_id, created_at) VALUES (?, ?, ?)",
            (_token_hash(token), row["id"], utc_now()),
        )
    return token


def user_for_token(conn: Connection, token: str) -> User | None:
    row = conn.execute(
        "SELECT u.* FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = ? AND u.active = 1",
        (_token_hash(token),),
    ).fetchone()
    return _user(row) if row else None


def _active(conn, name: str):
    row = conn.execute("SELECT * FROM users WHERE name = ? AND active = 1", (name,)).fetchone()
    if row is None:
        raise NotFound(f"no user {name}: check the name in the list")
    return row


def _end_sessions(conn, user_id: int) -> None:
    conn.execute("UPDATE users SET session_version = session_version + 1 WHERE id = ?", (user_id,))


def session_version(conn: Connection, name: str) -> int:
    return _active(conn, name)["session_version"]


def set_language(conn: Connection, user_id: int, language: str | None) -> None:
    """The language of `user_id`'s pages (one of programme.i18n.LANGUAGES), or None for the browser's."""
    from programme.i18n import LANGUAGES

    if language is not None and language not in LANGUAGES:
        raise InvalidInput(f"language {language!r} is not one of {', '.join(LANGUAGES)}")
    with transaction(conn):
        conn.execute("UPDATE users SET language = ? WHERE id = ?", (language, user_id))


def log_out(conn: Connection, user_id: int) -> None:
    """End every session of the user (the one logging out, and any copy of its cookie)."""
    with transaction(conn):
        _end_sessions(conn, user_id)


def _check_new_password(new: str) -> None:
    if len(new) < MIN_PASSWORD:
        raise InvalidInput(
            _("the new password must have at least {count} characters: choose a longer one").format(count=MIN_PASSWORD)
        )


def change_password(
    conn: Connection, name: str, current: str, new: str, address: str = "unknown", now: datetime | None = None
) -> User:
    """The user's own change, with their current password (guesses throttled as at log-in); every session
    ends. Returns the user as now stored (the caller logs the session that changed it in again)."""
    row = _active(conn, name)
    _check_new_password(new)
    now = now or datetime.now(timezone.utc)
    key = (name, address[:NAME_KEY])
    _claim(conn, *key, now)
    try:
        _hasher.verify(row["password_hash"], current)
    except (VerificationError, InvalidHashError):
        raise InvalidInput(_("the current password is wrong: type it again")) from None
    with transaction(conn):
        conn.execute("DELETE FROM login_throttle WHERE name = ? AND address = ?", key)
        conn.execute("UPDATE users SET password_hash = ? WHERE id = ?", (_hasher.hash(new), row["id"]))
        _end_sessions(conn, row["id"])
        audit.record(conn, name, "change_password", detail={"user": name})
    return get_user(conn, row["id"])


def reset_password(conn: Connection, name: str, actor: str = CLI_ACTOR) -> str:
    """An admin's reset: a new generated password (returned, shown once); every session of the user ends."""
    row = _active(conn, name)
    password = secrets.token_urlsafe(12)
    with transaction(conn):
        conn.execute("UPDATE users SET password_hash = ? WHERE id = ?", (_hasher.hash(password), row["id"]))
        _end_sessions(conn, row["id"])
        audit.record(conn, actor, "reset_password", detail={"user": name})
    return password


def disable_user(conn: Connection, name: str, actor: str = CLI_ACTOR) -> None:
    """The user can no longer log in nor use a token; every session ends. Kept for the audit trail."""
    if name == actor:
        raise InvalidInput("you cannot disable your own account: ask another admin")
    row = _active(conn, name)
    with transaction(conn):
        conn.execute("UPDATE users SET active = 0 WHERE id = ?", (row["id"],))
        _end_sessions(conn, row["id"])
        audit.record(conn, actor, "disable_user", detail={"user": name})


def revoke_tokens(conn: Connection, name: str, actor: str = CLI_ACTOR) -> int:
    """Delete every API token of the user; returns how many there were."""
    row = _active(conn, name)
    with transaction(conn):
        count = conn.execute("DELETE FROM api_tokens WHERE user_id = ?", (row["id"],)).rowcount
        audit.record(conn, actor, "revoke_tokens", detail={"user": name, "tokens": count})
    return count
