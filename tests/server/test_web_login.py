"""Log-in throttling: an exponential delay per user name and address, never a lock on a correct password
from elsewhere; 429 with Retry-After; the real client address behind a trusted proxy; an admin unlocks.

Each test runs on SQLite and on PostgreSQL."""

import threading
from datetime import datetime, timedelta, timezone

import pytest
from argon2 import PasswordHasher
from click.testing import CliRunner

from loyalty.cli import main
from server.desk import accounts
from server.desk.errors import DeskError
from server.storage.desk_db import open_db
from server.web import create_app

from ..fixtures.desk import both_engines, error_of  # noqa: F401 - fixtures

pytestmark = pytest.mark.usefixtures("english")  # written when the pages spoke only English

T0 = datetime(2026, 12, 5, 10, 0, tzinfo=timezone.utc)


def fail(conn, name, address, now, times=1):
    for _ in range(times):
        with pytest.raises(accounts.LoginRefused, match="^wrong user name or password$"):
            accounts.log_in(conn, name, "guess", address, now)


def test_failures_delay_the_next_try_exponentially_for_that_name_and_address_only(desk):
    conn, password = desk.conn, desk.passwords["card_manager"]
    fail(conn, "card-manager", "203.0.113.9", T0, accounts.FREE_ATTEMPTS)
    with pytest.raises(accounts.LoginThrottled) as refused:
        accounts.log_in(conn, "card-manager", password, "203.0.113.9", T0)  # even the right password waits
    assert refused.value.retry_after == accounts.FIRST_DELAY_S
    assert str(refused.value) == (
        f"too many failed log-ins for card-manager from this address: try again in "
        f"{accounts.FIRST_DELAY_S} seconds, or ask an admin to unlock it"
    )
    # The desk behind another address is not locked out by the attacker.
    assert accounts.log_in(conn, "card-manager", password, "198.51.100.7", T0).name == "card-manager"
    # The delay doubles after each failure past the free ones.
    later = T0 + timedelta(seconds=accounts.FIRST_DELAY_S)
    fail(conn, "card-manager", "203.0.113.9", later)
    with pytest.raises(accounts.LoginThrottled) as refused:
        accounts.log_in(conn, "card-manager", password, "203.0.113.9", later)
    assert refused.value.retry_after == 2 * accounts.FIRST_DELAY_S
    # Once the delay has passed, a correct password works and forgets the failures.
    later += timedelta(seconds=2 * accounts.FIRST_DELAY_S)
    assert accounts.log_in(conn, "card-manager", password, "203.0.113.9", later).name == "card-manager"
    fail(conn, "card-manager", "203.0.113.9", later)  # counted from zero again: no delay
    assert accounts.delay_s(10**6) == accounts.MAX_DELAY_S


def test_a_throttled_log_in_answers_429_with_retry_after(desk):
    client = desk.client()
    for _ in range(accounts.FREE_ATTEMPTS):
        assert desk.post(client, "/login", name="card-manager", password="nope").status_code == 401
    response = desk.post(client, "/login", name="card-manager", password=desk.passwords["card_manager"])
    assert response.status_code == 429
    assert 1 <= int(response.headers["Retry-After"]) <= accounts.FIRST_DELAY_S
    assert error_of(response).startswith("too many failed log-ins for card-manager from this address: try again in ")


def test_concurrent_guesses_do_not_pass_the_limit(desk, monkeypatch):
    """20 guesses at once: no more passwords are checked than the free attempts (the claim is atomic)."""
    monkeypatch.setattr(accounts, "FIRST_DELAY_S", 600)
    checked, lock, statuses = [], threading.Lock(), []

    class Counting(PasswordHasher):
        def verify(self, hash_, password):
            with lock:
                checked.append(password)
            return super().verify(hash_, password)

    monkeypatch.setattr(accounts, "_hasher", Counting(time_cost=1, memory_cost=8192, parallelism=1))
    clients = [desk.client() for _ in range(20)]
    start = threading.Barrier(len(clients))

    def guess(client, n):
        start.wait()
        response = desk.post(client, "/login", name="card-manager", password=f"guess{n}")
        with lock:
            statuses.append(response.status_code)

    threads = [threading.Thread(target=guess, args=(c, n)) for n, c in enumerate(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(statuses) == 20
    assert len(checked) <= accounts.FREE_ATTEMPTS
    assert sorted(statuses) == [401] * len(checked) + [429] * (20 - len(checked))


def test_the_client_address_comes_from_a_trusted_proxy_only_when_configured(desk, tmp_path):
    password = desk.passwords["card_manager"]
    behind = create_app(
        {"DB": desk.db_path, "TESTING": True, "TRUSTED_PROXIES": 1}, instance_path=str(tmp_path / "instance")
    )
    attacker, colleague = behind.test_client(), behind.test_client()

    def post(client, who, password, forwarded):
        client.get("/login")
        import re

        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True))[1]
        return client.post(
            "/login",
            data={"csrf_token": token, "name": who, "password": password},
            headers={"X-Forwarded-For": forwarded},
        )

    for _ in range(accounts.FREE_ATTEMPTS + 1):
        post(attacker, "card-manager", "guess", "203.0.113.9")
    assert post(attacker, "card-manager", password, "203.0.113.9").status_code == 429
    assert post(colleague, "card-manager", password, "198.51.100.7").status_code == 302
    behind.extensions["desk_connections"].close()
    # Without the setting the header is not trusted: the attacker cannot pick a new address per guess.
    direct = desk.client()
    for n in range(accounts.FREE_ATTEMPTS):
        direct.post(
            "/login",
            data={"csrf_token": direct.csrf, "name": "admin", "password": "guess"},
            headers={"X-Forwarded-For": f"192.0.2.{n}"},
        )
    response = direct.post(
        "/login",
        data={"csrf_token": direct.csrf, "name": "admin", "password": desk.passwords["admin"]},
        headers={"X-Forwarded-For": "192.0.2.99"},
    )
    assert response.status_code == 429


def test_a_bad_trusted_proxies_setting_is_a_clear_error(desk, tmp_path):
    with pytest.raises(
        DeskError, match="^TRUSTED_PROXIES 'yes' is not a number of proxies: give 0 \\(no proxy\\) to 5$"
    ):
        create_app({"DB": desk.db_path, "TRUSTED_PROXIES": "yes"}, instance_path=str(tmp_path / "instance"))


def test_an_admin_unlocks_by_command_and_on_the_users_page(desk):
    conn, password = desk.conn, desk.passwords["card_manager"]
    now = datetime.now(timezone.utc)
    fail(conn, "card-manager", "203.0.113.9", now, accounts.FREE_ATTEMPTS)
    with pytest.raises(accounts.LoginThrottled):
        accounts.log_in(conn, "card-manager", password, "203.0.113.9", now)
    result = CliRunner().invoke(main, ["admin", "unlock", "card-manager", "--db", desk.db_path])
    assert result.exit_code == 0 and result.output == "log-in of card-manager unlocked (1 address)\n"
    assert accounts.log_in(conn, "card-manager", password, "203.0.113.9", now).name == "card-manager"

    fail(conn, "card-manager", "203.0.113.9", now, accounts.FREE_ATTEMPTS)
    response = desk.post(desk.client("admin"), "/users/card-manager/unlock")
    assert response.status_code == 200
    assert "Log-in of card-manager unlocked (1 address(es))." in response.get_data(as_text=True)
    assert accounts.log_in(conn, "card-manager", password, "203.0.113.9", now).name == "card-manager"
    assert [r[0] for r in conn.execute("SELECT action FROM audit ORDER BY id")] == ["unlock", "unlock"]


def test_an_older_database_keeps_working(request, tmp_path, desk_engine):
    """A database made with the old failure table opens, and log-in is throttled in the new one."""
    from ..fixtures.desk import desk_target

    target = desk_target(request, tmp_path, desk_engine)
    conn = open_db(target)
    with conn:
        conn.execute("CREATE TABLE IF NOT EXISTS login_failures (key TEXT NOT NULL, at TEXT NOT NULL)")
    password = accounts.create_user(conn, "alice", "admin")
    conn.close()
    conn = open_db(target)
    assert accounts.log_in(conn, "alice", password, "10.0.0.1").name == "alice"
    conn.close()


@pytest.mark.parametrize(
    "target,where",
    [
        ("/%09/evil.example", "/"),
        ("//evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("/%5Cevil.example", "/"),
        ("%20//evil.example", "/"),
        ("/%0d%0a/evil.example", "/"),
        ("https://evil.example/", "/"),
        ("javascript:alert(1)", "/"),
        ("/\t\\evil.example", "/"),
        ("///evil.example", "/"),
        ("/customers?q=Marie", "/customers?q=Marie"),
        ("/customers/1/statement", "/customers/1/statement"),
    ],
)
def test_after_log_in_only_a_local_path_is_followed(desk, target, where):
    client = desk.client()
    response = client.post(
        f"/login?next={target}",
        data={"csrf_token": client.csrf, "name": "card-manager", "password": desk.passwords["card_manager"]},
    )
    assert response.status_code == 302 and response.location == where
