"""Accounts after log-in: a session ends for real (log-out, password change, disable, reset), tokens are revoked.

Each test runs on SQLite and on PostgreSQL; the session cookie a browser holds is copied into a second
client, as an attacker who stole it would, and must stop working."""

import pytest
from click.testing import CliRunner

from loyalty.cli import main
from server.desk import accounts
from server.desk.errors import InvalidInput, LoginRefused, NotFound
from server.storage.desk_db import open_db

from ..fixtures.desk import both_engines, error_of  # noqa: F401 - fixtures

pytestmark = pytest.mark.usefixtures("english")  # written when the pages spoke only English


def stolen(desk, client):
    """A second browser holding a copy of `client`'s session cookie."""
    other = desk.app.test_client()
    other.set_cookie("session", client.get_cookie("session").value)
    return other


def still_in(client) -> bool:
    response = client.get("/customers")
    return response.status_code == 200


def test_logout_ends_the_session_even_for_a_copied_cookie(desk):
    client = desk.client("card_manager")
    copy = stolen(desk, client)
    assert still_in(copy)
    response = desk.post(client, "/logout")
    assert response.status_code == 302 and response.location == "/login"
    assert not still_in(copy)
    assert copy.get("/customers").location.startswith("/login")
    assert not still_in(client)
    assert still_in(desk.client("card_manager"))  # logging in again works


def test_a_user_changes_their_password_with_the_current_one(desk):
    client = desk.client("card_manager")
    copy = stolen(desk, client)
    assert client.get("/account/password").status_code == 200
    response = desk.post(
        client, "/account/password", current="wrong", new="a new long passphrase", again="a new long passphrase"
    )
    assert response.status_code == 400 and error_of(response) == "the current password is wrong: type it again"
    response = desk.post(
        client, "/account/password", current=desk.passwords["card_manager"], new="short", again="short"
    )
    assert response.status_code == 400
    assert error_of(response) == "the new password must have at least 12 characters: choose a longer one"
    response = desk.post(
        client,
        "/account/password",
        current=desk.passwords["card_manager"],
        new="a new long passphrase",
        again="another passphrase",
    )
    assert error_of(response) == "the two new passwords differ: type the same one twice"
    response = desk.post(
        client,
        "/account/password",
        current=desk.passwords["card_manager"],
        new="a new long passphrase",
        again="a new long passphrase",
    )
    assert response.status_code == 302
    assert still_in(client), "the session that changed the password stays logged in"
    assert not still_in(copy), "every other session of the user ended"
    with pytest.raises(LoginRefused, match="^wrong user name or password$"):
        accounts.log_in(desk.conn, "card-manager", desk.passwords["card_manager"], "10.0.0.9")
    assert accounts.log_in(desk.conn, "card-manager", "a new long passphrase", "10.0.0.9").name == "card-manager"


def test_admin_page_disables_resets_and_revokes(desk):
    admin = desk.client("admin")
    victim = desk.client("card_manager")
    token = accounts.create_token(desk.conn, "card-manager")
    api = desk.app.test_client()
    bearer = {"Authorization": f"Bearer {token}"}
    assert api.get("/api/v1/customers", headers=bearer).status_code == 200

    response = desk.post(admin, "/users/card-manager/revoke-tokens")
    assert response.status_code == 200 and "1 API token(s) of card-manager revoked" in response.get_data(as_text=True)
    assert api.get("/api/v1/customers", headers=bearer).status_code == 401
    assert still_in(victim), "revoking tokens leaves the pages alone"

    response = desk.post(admin, "/users/card-manager/reset-password")
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "New password for card-manager (shown once)" in page
    assert not still_in(victim)
    new_password = page.split('id="new-password"><code>')[1].split("</code>")[0]
    assert accounts.log_in(desk.conn, "card-manager", new_password, "10.0.0.9").name == "card-manager"

    desk.passwords["card_manager"] = new_password
    victim = desk.client("card_manager")
    response = desk.post(admin, "/users/card-manager/disable")
    assert response.status_code == 200 and "User card-manager disabled" in response.get_data(as_text=True)
    assert not still_in(victim)
    with pytest.raises(LoginRefused, match="^wrong user name or password$"):
        accounts.log_in(desk.conn, "card-manager", new_password, "10.0.0.9")
    response = desk.post(admin, "/users/admin/disable")
    assert response.status_code == 400
    assert error_of(response) == "you cannot disable your own account: ask another admin"
    response = desk.post(admin, "/users/nobody/disable")
    assert response.status_code == 404 and error_of(response) == "no user nobody: check the name in the list"
    actions = [r[0] for r in desk.conn.execute("SELECT action FROM audit WHERE actor = 'admin' ORDER BY id")]
    assert actions == ["revoke_tokens", "reset_password", "disable_user"]


def test_admin_cli_disables_resets_and_revokes(desk):
    db = desk.db_path
    victim = desk.client("card_manager")
    token = accounts.create_token(desk.conn, "card-manager")

    def run(*args):
        return CliRunner().invoke(main, ["admin", *args, "--db", db])

    result = run("revoke-tokens", "card-manager")
    assert result.exit_code == 0 and result.output == "1 API token(s) of card-manager revoked\n"
    assert accounts.user_for_token(desk.conn, token) is None
    result = run("reset-password", "card-manager")
    prefix = "new password for card-manager (shown once): "
    assert result.exit_code == 0 and result.output.startswith(prefix)
    assert not still_in(victim)
    password = result.output[len(prefix) :].strip()
    assert accounts.log_in(desk.conn, "card-manager", password, "10.0.0.9").name == "card-manager"
    result = run("disable-user", "card-manager")
    assert result.exit_code == 0 and result.output == "user card-manager disabled; their sessions ended\n"
    assert [u["active"] for u in accounts.list_users(desk.conn) if u["name"] == "card-manager"] == [0]
    result = run("disable-user", "nobody")
    assert result.exit_code == 1 and "Error: no user nobody: check the name in the list" in result.output


def test_password_rules_in_the_library(desk):
    with pytest.raises(NotFound, match="^no user nobody: check the name in the list$"):
        accounts.reset_password(desk.conn, "nobody")
    with pytest.raises(InvalidInput, match="^the new password must have at least 12 characters"):
        accounts.change_password(desk.conn, "admin", desk.passwords["admin"], "x" * 11)
    conn = open_db(desk.db_path)
    before = accounts.session_version(conn, "admin")
    accounts.change_password(conn, "admin", desk.passwords["admin"], "x" * 12)
    assert accounts.session_version(conn, "admin") == before + 1
    conn.close()


def test_an_older_database_gets_the_session_version_column(request, tmp_path, desk_engine):
    from ..fixtures.desk import desk_target

    target = desk_target(request, tmp_path, desk_engine)
    conn = open_db(target)
    accounts.create_user(conn, "alice", "admin")
    with conn:
        conn.execute("ALTER TABLE users DROP COLUMN session_version")  # as the database was before,
        conn.execute("DROP TABLE schema_migrations")  # and before migrations were recorded
    conn.close()
    conn = open_db(target)
    assert accounts.session_version(conn, "alice") == 0
    conn.close()


def test_guessing_the_current_password_on_the_change_form_is_throttled_too(desk):
    """A stolen session cannot try passwords on the change form faster than on the log-in page."""
    client = desk.client("card_manager")
    for _ in range(accounts.FREE_ATTEMPTS):
        response = desk.post(
            client, "/account/password", current="a guess", new="a new long passphrase", again="a new long passphrase"
        )
        assert error_of(response) == "the current password is wrong: type it again"
    response = desk.post(
        client,
        "/account/password",
        current=desk.passwords["card_manager"],
        new="a new long passphrase",
        again="a new long passphrase",
    )
    assert response.status_code == 429 and int(response.headers["Retry-After"]) >= 1
    assert error_of(response).startswith("too many failed log-ins for card-manager from this address: try again in ")
