"""The welcome desk web app: `create_app(test_config=None)` with layered config, blueprints per concept.

Config layers, later wins: DEFAULTS; `loyalty.cfg` in the instance folder; the file named by
LOYALTY_CONFIG; LOYALTY_* environment variables (LOYALTY_DB, LOYALTY_BROKER, LOYALTY_SECRET_KEY...);
the test config. A SECRET_KEY not given is generated once into the instance folder (never the repo).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from flask import Flask, current_app, g

from server.desk.errors import DeskError
from server.web import error_pages
from server.web.context import BoundedInt, check_ids, csrf, login_manager
from server.storage.desk_db import open_db
from programme.i18n import N_

DEFAULTS = {
    "DB": None,
    "BROKER": None,
    "CARD_PREFIXES": "29",
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    # Set LOYALTY_SESSION_COOKIE_SECURE=true when the app is served behind HTTPS (it is on 127.0.0.1 by default).
    "SESSION_COOKIE_SECURE": False,
    "REMEMBER_COOKIE_HTTPONLY": True,
    "REMEMBER_COOKIE_SAMESITE": "Lax",
    "MAX_CONTENT_LENGTH": 1024 * 1024,
    "DB_CONNECTIONS": 8,
    # Proxies in front of the app whose X-Forwarded-For / -Proto headers are trusted (werkzeug's ProxyFix):
    # 0 takes the address that connects; 1 behind one TLS reverse proxy (LOYALTY_TRUSTED_PROXIES=1).
    "TRUSTED_PROXIES": 0,  # PostgreSQL connections kept open between requests (waitress runs 8 threads)
}
SECRET_FILE = "secret_key"
# Sent with every response. Styles may be inline only for pygal's SVG charts; no inline script at all.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",  # pages carry personal data: never kept by a shared browser or proxy
}

# Flask-WTF's reasons for refusing a form, as it words them (translated when shown).
CSRF_REASONS = (
    N_("The CSRF token is missing."),
    N_("The CSRF token is invalid."),
    N_("The CSRF token has expired."),
    N_("The CSRF session token is missing."),
    N_("The CSRF tokens do not match."),
    N_("The referrer header is missing."),
    N_("The referrer does not match the host."),
)


def _secret_key(instance: Path) -> str:
    path = instance / SECRET_FILE
    if not path.exists():
        instance.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
    return path.read_text().strip()


MAX_PROXIES = 5


def _trust_proxies(app: Flask) -> None:
    """Log-in throttling counts per client address: behind a reverse proxy, that address is in its header."""
    raw = app.config["TRUSTED_PROXIES"]
    if isinstance(raw, bool) or not (isinstance(raw, int) or str(raw).isdigit()) or not 0 <= int(raw) <= MAX_PROXIES:
        raise DeskError(f"TRUSTED_PROXIES {raw!r} is not a number of proxies: give 0 (no proxy) to {MAX_PROXIES}")
    if int(raw):
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=int(raw), x_proto=int(raw))


def create_app(test_config: dict | None = None, instance_path: str | None = None) -> Flask:
    instance_path = instance_path or os.environ.get("LOYALTY_INSTANCE_PATH")
    app = Flask(
        __name__,
        instance_path=str(Path(instance_path).resolve()) if instance_path else None,
        instance_relative_config=True,
    )
    app.url_map.converters["int"] = BoundedInt  # before any route is added
    _configure(app, test_config)
    _trust_proxies(app)
    open_db(app.config["DB"]).close()  # create the desk's tables once, before the first request
    from .connections import Connections

    app.extensions["desk_connections"] = Connections(app.config["DB"], app.config["DB_CONNECTIONS"])

    from .languages import init_languages

    init_languages(app)  # French first, per user; money, dates and percentages as filters
    csrf.init_app(app)
    login_manager.init_app(app)
    app.after_request(_security_headers)
    app.teardown_appcontext(_close_db)
    app.url_value_preprocessor(check_ids)
    error_pages.install(app)
    _register_blueprints(app)
    return app


def _configure(app: Flask, test_config: dict | None) -> None:
    """The config layers (see the module's docstring); a database is required, a secret key made when none."""
    app.config.from_mapping(DEFAULTS)
    app.config.from_pyfile("loyalty.cfg", silent=True)
    if os.environ.get("LOYALTY_CONFIG"):
        app.config.from_envvar("LOYALTY_CONFIG")
    app.config.from_prefixed_env("LOYALTY")
    if test_config:
        app.config.from_mapping(test_config)
    if not app.config["DB"]:
        raise DeskError("no database configured: give --db, set LOYALTY_DB, or DB in the config file")
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _secret_key(Path(app.instance_path))


def _security_headers(response):
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if current_app.config["SESSION_COOKIE_SECURE"]:
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    return response


def _close_db(exc):
    conn = g.pop("db", None)
    if conn is not None:
        current_app.extensions["desk_connections"].give_back(conn)


def _register_blueprints(app: Flask) -> None:
    from . import api, auth, cards, customers, receipt_page

    app.register_blueprint(receipt_page.bp)  # the receipt's QR code page: no log-in, a signed link
    app.register_blueprint(auth.bp)
    app.register_blueprint(customers.bp)
    app.register_blueprint(cards.bp)
    app.register_blueprint(api.bp)
    from . import office, office_campaigns, office_exceptions, office_next_offers, office_tickets  # head office pages

    for blueprint in (office.bp, office_tickets.bp, office_campaigns.bp, office_next_offers.bp, office_exceptions.bp):
        app.register_blueprint(blueprint)
    csrf.exempt(api.bp)
