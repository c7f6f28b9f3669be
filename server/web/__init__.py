"""The welcome desk web app: `create_app(test_config=None)` with layered config, blueprints per concept.

Config layers, later wins: DEFAULTS; `loyalty.cfg` in the instance folder; the file named by
LOYALTY_CONFIG; LOYALTY_* environment variables (LOYALTY_DB, LOYALTY_BROKER, LOYALTY_SECRET_KEY...);
the test config. A SECRET_KEY not given is generated once into the instance folder (never the repo).
"""
from __future__ import annotations

import os
import secrets
import sqlite3
from functools import wraps
from pathlib import Path

from flask import Flask, abort, current_app, g, jsonify, render_template, request
from flask_login import LoginManager, UserMixin, current_user
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException
from werkzeug.routing import IntegerConverter

from server.desk import bounds
from server.desk.accounts import get_user
from server.desk.errors import Conflict, DeskError, NotFound
from server.storage.connection import Connection, is_postgres
from server.storage.desk_db import open_db

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
    "Content-Security-Policy": ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
                                "img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",  # pages carry personal data: never kept by a shared browser or proxy
}

OFFICE_SQLITE_ONLY = ("the head office pages run on a SQLite database only for now; on PostgreSQL the desk runs "
                      "(customers, cards, users, /api/v1): open the desk's pages instead")

API_PREFIX = "/api/"
csrf = CSRFProtect()
login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = "Log in to use the desk."


class BoundedInt(IntegerConverter):
    """<int:...> in every route: at most bounds.MAX_DIGITS digits reach int() (longer: 404); the value is then
    range-checked by check_ids, so a huge id answers 400 with a message instead of failing in the database."""

    regex = rf"\d{{1,{bounds.MAX_DIGITS}}}"


def check_ids(endpoint, values) -> None:
    for key, value in (values or {}).items():
        if isinstance(value, int):
            bounds.check_int(value, key.removesuffix("_id").replace("_", " "), 1, bounds.MAX_ID)


class WebUser(UserMixin):
    """The logged-in user; the session holds "id:session_version", so bumping the version ends the session."""

    def __init__(self, user):
        self.id, self.name, self.role = user.id, user.name, user.role
        self.session_version = user.session_version

    def get_id(self) -> str:
        return f"{self.id}:{self.session_version}"


@login_manager.user_loader
def load_user(session_id: str):
    user_id, _, version = session_id.partition(":")
    if not (user_id.isdigit() and version.isdigit()):
        return None  # a session from before session versions: log in again
    user = get_user(db(), int(user_id))
    return WebUser(user) if user and user.session_version == int(version) else None


def db() -> Connection:
    """The request's connection (sqlite3's API on both engines); the tables were created at start."""
    if "db" not in g:
        g.db = current_app.extensions["desk_connections"].take()
    return g.db


def card_prefixes() -> tuple[str, ...]:
    return tuple(p.strip() for p in str(current_app.config["CARD_PREFIXES"]).split(",") if p.strip())


def status_of(exc: DeskError) -> int:
    return 404 if isinstance(exc, NotFound) else 409 if isinstance(exc, Conflict) else 400


def roles(*allowed: str):
    """Every view names the roles that may use it; anyone else gets 403 (or the log-in page)."""
    def decorate(view):
        @wraps(view)
        def checked(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if current_user.role not in allowed:
                abort(403, f"your role ({current_user.role}) may not do this: ask a "
                           f"{' or '.join(allowed)}")
            return view(*args, **kwargs)
        checked.roles = allowed
        return checked
    return decorate


DESK = ("card_manager", "admin")
EVERYONE = ("card_manager", "head_office", "admin")


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
    app = Flask(__name__, instance_path=str(Path(instance_path).resolve()) if instance_path else None,
                instance_relative_config=True)
    app.url_map.converters["int"] = BoundedInt  # before any route is added
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
    _trust_proxies(app)
    open_db(app.config["DB"]).close()  # create the desk's tables once, before the first request
    from .connections import Connections

    app.extensions["desk_connections"] = Connections(app.config["DB"], app.config["DB_CONNECTIONS"])

    from programme.money import format_cents

    app.jinja_env.filters["euros"] = format_cents
    app.jinja_env.filters["utc"] = utc_minute
    csrf.init_app(app)
    login_manager.init_app(app)

    @app.after_request
    def security_headers(response):
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if app.config["SESSION_COOKIE_SECURE"]:
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response

    @app.teardown_appcontext
    def close_db(exc):
        conn = g.pop("db", None)
        if conn is not None:
            app.extensions["desk_connections"].give_back(conn)

    app.url_value_preprocessor(check_ids)

    @app.errorhandler(HTTPException)
    def api_http_error(exc):
        """Under /api/v1 every HTTP error is JSON like the API's own refusals (docs/api.md); pages keep theirs."""
        if not request.path.startswith(API_PREFIX):
            return exc
        if exc.code == 404:
            message = f"no API endpoint {request.path}: see docs/api.md for the endpoints"
        elif exc.code == 405:
            allowed = sorted(set(exc.valid_methods or ["GET"]) - {"HEAD", "OPTIONS"})
            message = f"{request.method} is not allowed on {request.path}: use {', '.join(allowed)}"
        else:
            message = exc.description or exc.name
        return jsonify(error=message), exc.code

    @app.errorhandler(CSRFError)
    def csrf_refused(exc):
        return render_template("error.html", title="Form refused", message=f"{exc.description} "
                               "Reload the page and send the form again."), 400

    @app.errorhandler(403)
    def forbidden(exc):
        if request.path.startswith(API_PREFIX):
            return api_http_error(exc)
        return render_template("error.html", title="Not allowed", message=exc.description), 403

    @app.errorhandler(404)
    def not_found(exc):
        if request.path.startswith(API_PREFIX):
            return api_http_error(exc)
        return render_template("error.html", title="Not found", message=exc.description), 404

    @app.errorhandler(DeskError)
    def refused(exc):
        return render_template("error.html", title="Refused", message=str(exc)), status_of(exc)

    from . import api, auth, cards, customers

    app.register_blueprint(auth.bp)
    app.register_blueprint(customers.bp)
    app.register_blueprint(cards.bp)
    app.register_blueprint(api.bp)
    from . import office, office_campaigns, office_tickets  # head office pages

    for blueprint in (office.bp, office_tickets.bp, office_campaigns.bp):
        app.register_blueprint(blueprint)
    # A head office page module says RUNS_ON_POSTGRESQL = True once it does; until then, on a postgresql://
    # database, its pages say so instead of failing.
    sqlite_only = {m.bp.name for m in (office, office_tickets, office_campaigns)
                   if not getattr(m, "RUNS_ON_POSTGRESQL", False)}

    @app.before_request
    def office_on_postgresql():
        if sqlite_only and request.blueprint in sqlite_only and is_postgres(app.config["DB"]) \
                and current_user.is_authenticated:
            return render_template("error.html", title="Not available on PostgreSQL yet",
                                   message=OFFICE_SQLITE_ONLY), 501
    csrf.exempt(api.bp)
    return app


def utc_minute(value) -> str:
    """A stored UTC time as people read it on a page: `2026-11-22 23:59 UTC` (empty stays empty)."""
    from datetime import datetime, timezone

    if not value:
        return ""
    try:
        when = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    if when.tzinfo is not None:
        when = when.astimezone(timezone.utc)
    return when.strftime("%Y-%m-%d %H:%M UTC")
