"""Every response of the web app carries the security headers; session cookies are HttpOnly and SameSite."""

from server.web import SECURITY_HEADERS

from ..fixtures.desk import both_engines  # noqa: F401 - fixtures; each test on both engines


def test_security_headers_on_pages_errors_and_api(desk):  # noqa: F811
    client = desk.client("card_manager")
    for url in ("/login", "/customers", "/no-such-page", "/api/v1/customers"):
        response = client.get(url)
        for name, value in SECURITY_HEADERS.items():
            assert response.headers.get(name) == value, f"{url}: {name}"
    assert "Strict-Transport-Security" not in response.headers


def test_session_cookie_flags(desk):  # noqa: F811
    client = desk.client("card_manager")
    assert client.get("/customers").status_code == 200
    cookie = client.get_cookie("session")
    assert cookie.http_only and cookie.same_site == "Lax"
