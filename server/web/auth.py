"""Log in and out (rate-limited), one's own password, and the admin's users: create, disable, reset, revoke."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user

from programme.i18n import _

from server.desk import accounts
from server.desk.errors import DeskError, InvalidInput
from server.web.context import EVERYONE, WebUser, db, roles, status_of

bp = Blueprint("auth", __name__)
# Controls and spaces: browsers drop tab and newline anywhere in a URL (so "/\t/evil" becomes "//evil").
_DROPPED = re.compile(r"[\x00-\x20\x7f]")


def local_target(raw: str) -> str | None:
    """`next` after log-in, only if it is a path on this site once normalised as a browser would; else None.

    Refused: a scheme or host, "//" (another host), and any backslash (browsers read "/\\" as "//")."""
    target = _DROPPED.sub("", raw)
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    parts = urlsplit(target)
    return None if parts.scheme or parts.netloc else target


@bp.route("/login", methods=["GET", "POST"])
def login():
    if request.method == "GET":
        return render_template("login.html")
    name = request.form.get("name", "").strip()
    try:
        user = accounts.log_in(db(), name, request.form.get("password", ""), request.remote_addr or "unknown")
    except accounts.LoginThrottled as exc:
        return render_template("login.html", error=str(exc), name=name), 429, {"Retry-After": str(exc.retry_after)}
    except DeskError as exc:
        return render_template("login.html", error=str(exc), name=name), 401
    login_user(WebUser(user))
    return redirect(local_target(request.args.get("next", "")) or url_for("customers.index"))


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    accounts.log_out(db(), current_user.id)  # every copy of this session's cookie stops working too
    logout_user()
    flash(_("Logged out."))
    return redirect(url_for("auth.login"))


logout.roles = ("any",)


@bp.route("/account/password", methods=["GET", "POST"])
@roles(*EVERYONE)
def change_password():
    if request.method == "GET":
        return render_template("password.html")
    form = request.form
    try:
        if form.get("new", "") != form.get("again", ""):
            raise InvalidInput(_("the two new passwords differ: type the same one twice"))
        user = accounts.change_password(
            db(), current_user.name, form.get("current", ""), form.get("new", ""), request.remote_addr or "unknown"
        )
    except accounts.LoginThrottled as exc:
        return render_template("password.html", error=str(exc)), 429, {"Retry-After": str(exc.retry_after)}
    except DeskError as exc:
        return render_template("password.html", error=str(exc)), status_of(exc)
    login_user(WebUser(user))  # this session goes on with the new session version; every other one ended
    flash(_("Password changed; your other sessions were logged out."))
    return redirect(url_for("customers.index"))


def users_page(status: int = 200, **shown):
    return render_template("users.html", users=accounts.list_users(db()), roles=accounts.ROLES, **shown), status


@bp.route("/users")
@roles("admin")
def users():
    return users_page()


def _admin_action(action):
    try:
        return users_page(done=action())
    except DeskError as exc:
        return users_page(status_of(exc), error=str(exc))


@bp.route("/users/<name>/disable", methods=["POST"])
@roles("admin")
def disable_user(name: str):
    def act():
        accounts.disable_user(db(), name, current_user.name)
        return _("User {name} disabled; their sessions ended.").format(name=name)

    return _admin_action(act)


@bp.route("/users/<name>/reset-password", methods=["POST"])
@roles("admin")
def reset_password(name: str):
    try:
        password = accounts.reset_password(db(), name, current_user.name)
    except DeskError as exc:
        return users_page(status_of(exc), error=str(exc))
    return users_page(reset={"name": name, "password": password})


@bp.route("/users/<name>/unlock", methods=["POST"])
@roles("admin")
def unlock(name: str):
    def act():
        return _("Log-in of {name} unlocked ({count} address(es)).").format(
            name=name, count=accounts.unlock(db(), name, current_user.name)
        )

    return _admin_action(act)


@bp.route("/users/<name>/revoke-tokens", methods=["POST"])
@roles("admin")
def revoke_tokens(name: str):
    def act():
        return _("{count} API token(s) of {name} revoked.").format(
            count=accounts.revoke_tokens(db(), name, current_user.name), name=name
        )

    return _admin_action(act)


@bp.route("/users", methods=["POST"])
@roles("admin")
def create_user():
    name, role = request.form.get("name", "").strip(), request.form.get("role", "")
    try:
        password = accounts.create_user(db(), name, role)
    except DeskError as exc:
        return users_page(status_of(exc), error=str(exc))
    return users_page(created={"name": name, "password": password})
