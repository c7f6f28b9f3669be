"""The POS API's HTTP edge (APIFlask): parse, call PosHost, answer; /openapi.json is written from the code.

Every call but /openapi.json carries `Authorization: Bearer <token>` (tokens.py, checked here); every POST and
DELETE carries an `Idempotency-Key` (idempotency.py). The calls are in routes.py; every refusal is a problem
document (problems.py), answered by refusals.py.
"""

from __future__ import annotations

import time

from apiflask import APIFlask
from flask import g, request

from programme.i18n import LANGUAGES, _, use_language

from . import refusals, routes
from .baskets import PosHost
from .problems import PosApiError

TOKEN_RELOAD_EVERY = 1.0  # seconds: a token made or replaced while the till serves counts within this
PUBLIC = {"/openapi.json"}


def create_app(host: PosHost) -> APIFlask:
    app = APIFlask(__name__, title="Loyalty till: POS API", version="1", spec_path="/openapi.json", docs_path=None)
    app.config.update(
        AUTO_404_RESPONSE=False,
        AUTO_VALIDATION_ERROR_RESPONSE=False,
        AUTO_AUTH_ERROR_RESPONSE=False,
        AUTO_SERVERS=False,
        SECURITY_SCHEMES={"pos": {"type": "http", "scheme": "bearer"}},
        DESCRIPTION="The till's loyalty conversation for an existing POS: docs/pos-api.md.",
    )
    app.json.sort_keys = False
    app.before_request(speak_the_pos_language)
    app.teardown_request(speak_the_tills_language_again)
    app.before_request(Authenticator(host))
    refusals.install(app)
    routes.install(app, host)
    return app


def speak_the_pos_language() -> None:
    """Messages in the first language of Accept-Language the till speaks; else the till's (LOYALTY_LANG)."""
    chosen = next((tag for tag in request.accept_languages.values() if tag.split("-")[0].lower() in LANGUAGES), None)
    if chosen:
        g.language = use_language(chosen)
        g.language.__enter__()


def speak_the_tills_language_again(error=None) -> None:
    if "language" in g:
        g.language.__exit__(None, None, None)


class Authenticator:
    """Every call but PUBLIC carries `Authorization: Bearer <token>` of a known POS (tokens.py); `g.pos` is
    that POS. The tokens are read again every TOKEN_RELOAD_EVERY seconds."""

    def __init__(self, host: PosHost):
        self.host = host
        self.tokens = host.tokens()
        self.at = time.monotonic()

    def __call__(self) -> None:
        if request.path in PUBLIC:
            return None
        scheme, _sep, token = request.headers.get("Authorization", "").partition(" ")
        pos = None
        if scheme.lower() == "bearer" and token.strip():
            from .tokens import pos_of

            if time.monotonic() - self.at >= TOKEN_RELOAD_EVERY:  # a token made or replaced meanwhile
                self.tokens, self.at = self.host.tokens(), time.monotonic()
            pos = pos_of(self.tokens, token.strip())
        if pos is None:
            raise PosApiError(
                "unauthorized",
                _(
                    "this POS is not recognised: send the header Authorization: Bearer TOKEN with the token made for "
                    "it by loyalty till pos-token"
                ),
            )
        g.pos = pos
        return None
