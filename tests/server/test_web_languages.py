"""The pages' language: French without a hint, the browser's Accept-Language, the user's own choice kept with
the user (a column added to older databases), and the API always in English. Both engines."""

import pytest

from server.desk import accounts, customers
from server.storage.desk_db import open_db

from ..fixtures.desk import ENROL, both_engines, error_of, text  # noqa: F401 - fixtures

NOBODY = 999_999


def h1(response) -> str:
    page = text(response)
    return page.split("<h1>", 1)[1].split("</h1>", 1)[0]


def test_pages_are_french_unless_the_browser_asks_for_english(desk):
    client = desk.client()
    assert h1(client.get("/login")) == "Se connecter"
    assert h1(client.get("/login", headers={"Accept-Language": "en-GB,en;q=0.9"})) == "Log in"
    assert h1(client.get("/login", headers={"Accept-Language": "de-DE,de;q=0.9"})) == "Se connecter"
    assert '<html lang="fr">' in text(client.get("/login"))


def test_a_user_s_choice_is_kept_with_the_user_and_wins_over_the_browser(desk):
    english = {"Accept-Language": "en-US,en;q=0.9"}
    client = desk.client("card_manager")
    assert h1(client.get("/customers", headers=english)) == "Customers"
    response = desk.post(client, "/language", language="fr", next="/customers?q=Marie")
    assert response.status_code == 302 and response.location == "/customers?q=Marie"
    assert h1(client.get("/customers", headers=english)) == "Clients"
    user = desk.conn.execute("SELECT language FROM users WHERE name = 'card-manager'").fetchone()[0]
    assert user == "fr"
    other_desk = desk.client("card_manager")  # another browser: the choice follows the user
    assert h1(other_desk.get("/customers", headers=english)) == "Clients"
    desk.post(client, "/language", language="", next="//evil.example/")  # back to the browser's; no open redirect
    assert desk.conn.execute("SELECT language FROM users WHERE name = 'card-manager'").fetchone()[0] is None
    assert h1(client.get("/customers", headers=english)) == "Customers"


def test_flash_messages_and_desk_errors_are_in_the_page_s_language(desk):
    client = desk.client("card_manager")
    response = desk.post(client, "/customers/new", **{**ENROL, "email": "", "phone": ""})
    assert error_of(response) == "indiquez au moins un contact : une adresse e-mail ou un numéro de téléphone"
    response = client.post(
        "/customers/new",
        data={"csrf_token": client.csrf, **ENROL},
        headers={"Accept-Language": "fr"},
        follow_redirects=True,
    )
    assert "Client 1 inscrit. Attribuez-lui une carte ci-dessous." in text(response)
    desk.post(client, "/language", language="en")
    response = desk.post(client, "/customers/new", **{**ENROL, "email": "", "phone": ""})
    assert error_of(response) == "give at least one contact: an e-mail address or a phone number"


def test_the_api_answers_in_english_whatever_the_user_or_the_browser_says(desk):
    customers.enrol(desk.conn, ENROL, "seed")
    user = desk.conn.execute("SELECT id FROM users WHERE name = 'card-manager'").fetchone()[0]
    accounts.set_language(desk.conn, user, "fr")
    token = accounts.create_token(desk.conn, "card-manager")
    response = desk.app.test_client().get(
        f"/api/v1/customers/{NOBODY}", headers={"Authorization": f"Bearer {token}", "Accept-Language": "fr-FR"}
    )
    assert response.status_code == 404
    assert response.json == {"error": f"no customer {NOBODY}: search for the customer by name, card or phone"}


def test_a_language_outside_the_list_is_refused_by_the_library(desk):
    from server.desk.errors import InvalidInput

    with pytest.raises(InvalidInput) as refused:
        accounts.set_language(desk.conn, 1, "de")
    assert str(refused.value) == "language 'de' is not one of fr, en"


def test_an_older_database_gets_the_language_column_and_keeps_its_users(desk):
    desk.conn.execute("ALTER TABLE users DROP COLUMN language")
    desk.conn.execute("DELETE FROM schema_migrations WHERE number >= 7")  # as the version before made it
    desk.conn.commit()
    before = desk.conn.execute("SELECT id, name, role FROM users ORDER BY id").fetchall()
    conn = open_db(desk.db_path)  # what the web app does at start
    try:
        assert [tuple(r) for r in conn.execute("SELECT id, name, role FROM users ORDER BY id")] == [
            tuple(r) for r in before
        ]
        assert {r[0] for r in conn.execute("SELECT language FROM users")} == {None}
    finally:
        conn.close()


def test_a_wrong_password_is_told_in_french(desk):
    client = desk.client()
    response = desk.post(client, "/login", name="card-manager", password="wrong")
    assert response.status_code == 401
    assert error_of(response) == "nom d'utilisateur ou mot de passe incorrect"


def test_an_out_of_range_field_is_told_in_french_and_in_english_to_the_api(desk):
    client = desk.client("head_office")
    response = client.get("/customers/1/statement?start=0001-01-01")
    assert response.status_code == 400
    assert error_of(response) == "début 0001-01-01 est hors limites : donnez un jour du 1900-01-01 au 2999-12-31"
    response = client.get("/customers/1/statement?start=1er+mai")
    assert error_of(response) == "début '1er mai' n'est pas une date : écrivez AAAA-MM-JJ"
    token = accounts.create_token(desk.conn, "head-office")
    response = desk.app.test_client().get(
        "/api/v1/customers/1/statement?start=0001-01-01",
        headers={"Authorization": f"Bearer {token}", "Accept-Language": "fr"},
    )
    assert response.status_code == 400
    assert response.json == {"error": "start 0001-01-01 is out of range: give a day from 1900-01-01 to 2999-12-31"}
