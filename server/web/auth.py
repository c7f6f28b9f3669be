"""Log in and out (rate-limited), and the admin's list of users."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import login_required, login_user, logout_user

from .. import accounts
from ..desk_errors import DeskError
from . import WebUser, db, roles, status_of

bp = Blueprint("auth", __name__)


@bp.route("/login", methods=["GET", "POST"])
def login():
    if request.method == "GET":
        return render_template("login.html")
    name = request.form.get("name", "").strip()
    try:
        user = accounts.log_in(db(), name, request.form.get("password", ""), request.remote_addr or "unknown")
    except DeskError as exc:
        return render_template("login.html", error=str(exc), name=name), 401
    login_user(WebUser(user))
    target = request.args.get("next", "")
    return redirect(target if target.startswith("/") and not target.startswith("//") else url_for("customers.index"))


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    logout_user()
    flash("Logged out.")
    return redirect(url_for("auth.login"))


logout.roles = ("any",)


@bp.route("/users")
@roles("admin")
def users():
    return render_template("users.html", users=accounts.list_users(db()), roles=accounts.ROLES)


@bp.route("/users", methods=["POST"])
@roles("admin")
def create_user():
    name, role = request.form.get("name", "").strip(), request.form.get("role", "")
    try:
        password = accounts.create_user(db(), name, role)
    except DeskError as exc:
        return render_template("users.html", users=accounts.list_users(db()), roles=accounts.ROLES,
                               error=str(exc)), status_of(exc)
    return render_template("users.html", users=accounts.list_users(db()), roles=accounts.ROLES,
                           created={"name": name, "password": password})
