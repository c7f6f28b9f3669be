"""Every route of the desk web app, for every role: allowed, or refused with 403 and nothing written."""

import pytest

from server.desk import cards, corrections, customers
from server.web.context import DESK, EVERYONE

from ..fixtures.desk import CARD_A, CARD_B, CARD_C, CARD_D, CARD_E, ENROL, ROLES, Desk, error_of

pytestmark = pytest.mark.usefixtures("fast_argon2", "english")  # english: written when the pages spoke only English

ADMIN = ("admin",)
DESK_BLUEPRINTS = ("auth", "customers", "cards")
ROUTES = [
    ("GET", "/", EVERYONE, {}),
    ("GET", "/customers?q=Marie", EVERYONE, {}),
    ("GET", "/customers/new", DESK, {}),
    ("POST", "/customers/new", DESK, {**ENROL, "name": "Pierre Curie"}),
    ("GET", "/customers/1", EVERYONE, {}),
    ("GET", "/customers/1/edit", DESK, {}),
    ("POST", "/customers/1/edit", DESK, {**ENROL, "postcode": "75006"}),
    ("POST", "/customers/1/adjust", DESK, {"card": CARD_A, "points": "5", "reason": "goodwill"}),
    ("GET", "/customers/1/statement", EVERYONE, {}),
    ("GET", "/customers/1/statement.pdf", EVERYONE, {}),
    ("GET", "/customers/1/export.json", DESK, {}),
    ("GET", "/customers/1/export.csv", DESK, {}),
    ("POST", "/customers/1/erase", DESK, {"confirm": "erase"}),
    ("GET", "/cards/anonymous", EVERYONE, {}),
    ("POST", "/customers/1/cards", DESK, {"number": CARD_C}),
    ("POST", f"/cards/{CARD_A}/block", DESK, {"reason": "customer asked"}),
    ("POST", f"/cards/{CARD_B}/unblock", DESK, {"reason": "found again"}),
    ("POST", f"/cards/{CARD_A}/replace", DESK, {"new_number": CARD_D, "why": "lost"}),
    ("POST", "/customers/1/merge", DESK, {"other": "2"}),
    ("POST", f"/cards/{CARD_A}/transfer", DESK, {"to_card": CARD_E, "points": "5", "reason": "household"}),
    ("GET", "/users", ADMIN, {}),
    ("POST", "/users", ADMIN, {"name": "carol", "role": "head_office"}),
    ("POST", "/users/head-office/disable", ADMIN, {}),
    ("POST", "/users/head-office/reset-password", ADMIN, {}),
    ("POST", "/users/head-office/revoke-tokens", ADMIN, {}),
    ("POST", "/users/head-office/unlock", ADMIN, {}),
    ("GET", "/account/password", EVERYONE, {}),
    ("POST", "/logout", EVERYONE, {}),
]


def _seed(desk: Desk) -> None:
    first = customers.enrol(desk.conn, ENROL, "seed")
    second = customers.enrol(desk.conn, {**ENROL, "name": "Marie Sklodowska"}, "seed")
    cards.issue(desk.conn, first, CARD_A, "seed")
    cards.issue(desk.conn, first, CARD_B, "seed")
    cards.issue(desk.conn, second, CARD_E, "seed")
    corrections.adjust(desk.conn, first, CARD_A, 50, "seed", "seed")
    cards.block(desk.conn, CARD_B, "seed", "seed")
    assert (first, second) == (1, 2)


def _state(desk: Desk) -> tuple:
    return tuple(desk.count(t) for t in ("customers", "cards", "audit", "ledger", "users")) + (
        desk.conn.execute("SELECT group_concat(status) FROM cards").fetchone()[0],
        desk.conn.execute("SELECT group_concat(name || postcode) FROM customers").fetchone()[0],
    )


def test_every_route_is_in_the_matrix_and_names_its_roles(tmp_path):
    app = Desk(tmp_path).app
    covered = {(method, url.split("?")[0]) for method, url, _, _ in ROUTES}
    for rule in app.url_map.iter_rules():
        # head-office routes have their own role matrix in tests/server/test_office_web.py; the receipt's page
        # is public behind its signed link (tests/server/test_receipt_page.py)
        if rule.endpoint in ("static", "auth.login", "receipt.receipt") or rule.endpoint.startswith(("api.", "office")):
            continue
        view = app.view_functions[rule.endpoint]
        assert getattr(view, "roles", None), f"{rule.endpoint} does not name the roles allowed"
        if rule.endpoint.split(".")[0] not in DESK_BLUEPRINTS:
            continue  # other pages (head office) keep their own role matrix
        methods = rule.methods - {"HEAD", "OPTIONS"}
        assert any(m in methods and _matches(rule.rule, url) for m, url in covered), rule.rule


def _matches(pattern: str, url: str) -> bool:
    import re

    regex = re.sub(r"<(?:\w+:)?\w+>", "[^/]+", pattern)
    return re.fullmatch(regex, url) is not None


@pytest.mark.parametrize("method,url,allowed,data", ROUTES, ids=[f"{m} {u}" for m, u, _, _ in ROUTES])
def test_route_per_role(tmp_path, method, url, allowed, data):
    desk = Desk(tmp_path)
    _seed(desk)
    send = (lambda c: c.get(url)) if method == "GET" else (lambda c: desk.post(c, url, **data))

    before = _state(desk)
    response = send(desk.client())
    assert response.status_code == 302 and response.location.startswith("/login"), "anonymous must log in"
    for role in ROLES:
        if role in allowed:
            continue
        response = send(desk.client(role))
        assert response.status_code == 403, role
        assert error_of(response) == f"your role ({role}) may not do this: ask a {' or '.join(allowed)}"
    assert _state(desk) == before, "a refused request wrote something"

    for n, role in enumerate(r for r in ROLES if r in allowed):
        response = send(desk.client(role))
        if url == "/logout":
            assert response.status_code == 302 and response.location == "/login"
            continue
        assert response.status_code != 403 and "/login" not in (response.location or ""), role
        if n == 0:
            assert response.status_code in (200, 302), error_of(response)
    if method == "POST" and url != "/logout":
        assert _state(desk) != before, "an allowed action changed nothing"


def test_a_form_without_csrf_token_is_refused_and_writes_nothing(tmp_path):
    desk = Desk(tmp_path)
    _seed(desk)
    client = desk.client("card_manager")
    before = _state(desk)
    response = client.post("/customers/1/adjust", data={"card": CARD_A, "points": "5", "reason": "goodwill"})
    assert response.status_code == 400
    assert error_of(response) == "The CSRF token is missing. Reload the page and send the form again."
    response = client.post("/customers/1/adjust", data={"csrf_token": "forged", "points": "5", "reason": "x"})
    assert error_of(response) == "The CSRF token is invalid. Reload the page and send the form again."
    assert _state(desk) == before
