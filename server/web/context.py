"""What every page of the web app needs: the request's database, the logged-in user and the roles that may
use a view, the errors' HTTP status, bounded ids in URLs. The blueprints import from here; the app factory
(server.web.create_app) wires it to the app."""

from __future__ import annotations

from functools import wraps

from flask import abort, current_app, g
from flask_login import LoginManager, UserMixin, current_user
from flask_wtf.csrf import CSRFProtect
from werkzeug.routing import IntegerConverter

from programme.i18n import N_, _

from server.desk import bounds
from server.desk.accounts import get_user
from server.desk.errors import Conflict, DeskError, NotFound
from server.storage.connection import Connection

csrf = CSRFProtect()
login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = N_("Log in to use the desk.")
login_manager.localize_callback = _  # flashed in the page's language


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
        self.language = user.language  # the pages' language the user chose (None: the browser's)

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
                abort(
                    403,
                    _("your role ({role}) may not do this: ask a {allowed}").format(
                        role=current_user.role, allowed=_(" or ").join(allowed)
                    ),
                )
            return view(*args, **kwargs)

        checked.roles = allowed
        return checked

    return decorate


DESK = ("card_manager", "admin")
EVERYONE = ("card_manager", "head_office", "admin")
