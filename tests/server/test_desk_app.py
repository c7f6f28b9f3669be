"""The app factory's config layers and secret key, users and log-in limits, the admin CLI, the JSON API."""

import os
import stat
from datetime import datetime, timedelta, timezone

import pytest
from click.testing import CliRunner

from loyalty.cli import main
from server.desk import accounts, cards, customers
from server.desk.errors import Conflict, DeskError, InvalidInput
from server.storage.desk_db import open_db
from server.web import create_app

from ..fixtures.desk import (  # noqa: F401 - fixtures; both_engines: each test on SQLite and PostgreSQL
    CARD_A,
    ENROL,
    both_engines,
    desk_target,
    error_of,
    sell_anonymously,
)

pytestmark = pytest.mark.usefixtures("english")  # written when the pages spoke only English


@pytest.fixture
def target(request, tmp_path, desk_engine) -> str:
    """The server's database: a SQLite file, or a postgresql:// URL."""
    return desk_target(request, tmp_path, desk_engine)


def test_config_layers_defaults_file_env_then_test_config(tmp_path, monkeypatch):
    instance = tmp_path / "instance"
    instance.mkdir()
    (instance / "loyalty.cfg").write_text(
        f"DB = {str(tmp_path / 'file.db')!r}\nCARD_PREFIXES = '28,29'\nBROKER = 'mqtt://file:1883'\n"
    )
    monkeypatch.setenv("LOYALTY_BROKER", "mqtt://env:1883")
    app = create_app(instance_path=str(instance))
    assert (app.config["DB"], app.config["CARD_PREFIXES"]) == (str(tmp_path / "file.db"), "28,29")
    assert app.config["BROKER"] == "mqtt://env:1883" and app.config["SESSION_COOKIE_HTTPONLY"] is True
    app = create_app({"BROKER": None}, instance_path=str(instance))
    assert app.config["BROKER"] is None


def test_secret_key_is_generated_once_into_the_instance_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("LOYALTY_SECRET_KEY", raising=False)
    config = {"DB": str(tmp_path / "s.db")}
    first = create_app(config, instance_path=str(tmp_path / "inst")).config["SECRET_KEY"]
    key_file = tmp_path / "inst" / "secret_key"
    assert len(first) == 64 and key_file.read_text() == first
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    assert create_app(config, instance_path=str(tmp_path / "inst")).config["SECRET_KEY"] == first
    monkeypatch.setenv("LOYALTY_SECRET_KEY", "from-env")
    assert create_app(config, instance_path=str(tmp_path / "other")).config["SECRET_KEY"] == "from-env"
    assert not (tmp_path / "other" / "secret_key").exists()


def test_no_database_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.delenv("LOYALTY_DB", raising=False)
    with pytest.raises(DeskError, match="^no database configured: give --db, set LOYALTY_DB, or DB in the config"):
        create_app(instance_path=str(tmp_path))


def test_users_roles_and_names_are_checked(target, fast_argon2):
    conn = open_db(target)
    password = accounts.create_user(conn, "alice", "card_manager")
    assert len(password) >= 16
    stored = conn.execute("SELECT password_hash FROM users").fetchone()[0]
    assert stored.startswith("$argon2id$") and password not in stored
    with pytest.raises(Conflict, match="^user alice already exists: choose another name$"):
        accounts.create_user(conn, "alice", "admin")
    with pytest.raises(InvalidInput, match="^role 'boss' is not one of card_manager, head_office, admin, till$"):
        accounts.create_user(conn, "bob", "boss")
    with pytest.raises(InvalidInput, match="^user name 'Bob Smith' must be 2-32 lower-case"):
        accounts.create_user(conn, "Bob Smith", "admin")
    assert accounts.log_in(conn, "alice", password, "10.0.0.1").role == "card_manager"
    conn.close()


def test_login_page_refuses_a_wrong_password_and_keeps_next_local(desk):
    client = desk.client()
    response = desk.post(client, "/login", name="card-manager", password="nope")
    assert response.status_code == 401 and error_of(response) == "wrong user name or password"
    response = client.post(
        "/login?next=//evil.example/",
        data={"csrf_token": client.csrf, "name": "card-manager", "password": desk.passwords["card_manager"]},
    )
    assert response.location == "/"
    page = client.get("/customers").get_data(as_text=True)
    assert 'id="who">card-manager <span class="role">card_manager</span>' in page


def test_admin_cli_create_user_prints_a_password_that_logs_in(target, fast_argon2):
    db = target
    result = CliRunner().invoke(main, ["admin", "create-user", "alice", "--role", "head_office", "--db", db])
    assert result.exit_code == 0, result.output
    prefix = "user alice (head_office) created; first password: "
    assert result.output.startswith(prefix)
    password = result.output[len(prefix) :].strip()
    conn = open_db(db)
    assert accounts.log_in(conn, "alice", password, "127.0.0.1").role == "head_office"
    conn.close()
    again = CliRunner().invoke(main, ["admin", "create-user", "alice", "--role", "admin", "--db", db])
    assert again.exit_code == 1 and "Error: user alice already exists: choose another name" in again.output
    listed = CliRunner().invoke(main, ["admin", "users", "--db", db])
    assert listed.output.startswith("alice\thead_office\t")
    missing = CliRunner().invoke(main, ["admin", "create-token", "nobody", "--db", db])
    assert (
        "Error: no user nobody: create it first with `loyalty admin create-user nobody --role ROLE`" in missing.output
    )


def test_api_with_token_auth_shows_what_the_pages_show(desk):
    sell_anonymously(desk.db_path, CARD_A, 2)
    customer_id = customers.enrol(desk.conn, ENROL, "seed")
    cards.issue(desk.conn, customer_id, CARD_A, "seed")
    token = CliRunner().invoke(main, ["admin", "create-token", "head-office", "--db", desk.db_path]).output.strip()
    api = desk.app.test_client()
    auth = {"Authorization": f"Bearer {token}"}
    response = api.get("/api/v1/customers?q=curie")
    assert response.status_code == 401 and response.json["error"].startswith("missing or unknown API token")
    assert api.get("/api/v1/hotlist", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert [c["id"] for c in api.get("/api/v1/customers?q=curie", headers=auth).json["customers"]] == [customer_id]
    view = api.get(f"/api/v1/customers/{customer_id}", headers=auth).json
    assert (view["balance"], view["ticket_count"], len(view["tickets"][0]["lines"])) == (24, 2, 2)
    assert api.get(f"/api/v1/cards/{CARD_A}", headers=auth).json["balance"] == 24
    assert api.get("/api/v1/hotlist", headers=auth).json == {"cards": []}
    assert api.get("/api/v1/anonymous-cards", headers=auth).json == {"cards": []}
    today = datetime.now(timezone.utc).date()
    statement = api.get(
        f"/api/v1/customers/{customer_id}/statement?start={today - timedelta(days=3)}&end={today}", headers=auth
    ).json
    assert (statement["opening"], statement["closing"]) == (0, 24)
    response = api.get("/api/v1/customers/99", headers=auth)
    assert response.status_code == 404
    assert response.json == {"error": "no customer 99: search for the customer by name, card or phone"}
    response = api.get(f"/api/v1/customers/{customer_id}/statement?start=soon&end=", headers=auth)
    assert response.status_code == 400 and response.json == {"error": "start 'soon' is not a date: use YYYY-MM-DD"}


def test_waitress_serves_the_app_on_loopback(tmp_path):
    import urllib.request

    from server.web.serve import make_server, run_in_thread

    srv = make_server(str(tmp_path / "s.db"), "127.0.0.1", 0, instance=str(tmp_path / "inst"))
    thread = run_in_thread(srv)
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{srv.effective_port}/login", timeout=10) as response:
            assert response.status == 200 and b"Log in" in response.read()
            assert response.headers["Server"] == "waitress"
    finally:
        srv.close()
        thread.join(10)
    assert not thread.is_alive()


def test_a_till_account_reads_the_hotlist_and_cards_by_api_only(desk):
    customer_id = customers.enrol(desk.conn, ENROL, "seed")
    cards.issue(desk.conn, customer_id, CARD_A, "seed")
    cards.block(desk.conn, CARD_A, "stolen wallet", "seed")
    password = accounts.create_user(desk.conn, "s001-t01", "till")
    token = accounts.create_token(desk.conn, "s001-t01")
    api, auth = desk.app.test_client(), {"Authorization": f"Bearer {token}"}
    assert [c["card"] for c in api.get("/api/v1/hotlist", headers=auth).json["cards"]] == [CARD_A]
    assert api.get(f"/api/v1/cards/{CARD_A}", headers=auth).json["status"] == "blocked"
    response = api.get(f"/api/v1/customers/{customer_id}", headers=auth)
    assert response.status_code == 403
    assert response.json == {"error": "your role (till) may not do this: ask a card_manager or head_office or admin"}
    client = desk.client()
    response = desk.post(client, "/login", name="s001-t01", password=password)
    assert response.status_code == 401
    assert error_of(response) == "user s001-t01 is a till account: it uses the API with a token, not the pages"


def test_loyalty_server_runs_ingest_and_the_desk_together(tmp_path, mosquitto):
    import signal
    import subprocess
    import sys
    import time
    import urllib.request

    from sync.mosquitto import free_port

    port = free_port()
    env = {**os.environ, "LOYALTY_INSTANCE_PATH": str(tmp_path / "instance")}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "loyalty",
            "server",
            "--db",
            str(tmp_path / "s.db"),
            "--broker",
            mosquitto.url,
            "--web-port",
            str(port),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline, page = time.monotonic() + 30, None
        while page is None and time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=2) as response:
                    page = response.read().decode()
            except OSError:
                time.sleep(0.1)
        assert page is not None and "Log in" in page, proc.stderr.read() if proc.poll() is not None else ""
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert f"desk web app on http://127.0.0.1:{port}/" in err and "server ingesting from" in err


@pytest.mark.parametrize("url", ["/office/sync", "/office/tickets", "/office/campaigns"])
def test_head_office_pages_run_on_both_engines(desk, url):
    response = desk.client("head_office").get(url)
    assert response.status_code == 200, error_of(response)
