"""Head office's exceptions page: what to look into (server/analytics/exceptions.py), each row linking its tickets."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from server.desk import bounds
from ..analytics.exceptions import exceptions
from ..errors import ServerError
from server.web.context import db, roles
from .office import OFFICE, refused

RUNS_ON_POSTGRESQL = True  # server/web/__init__.py serves these pages on a postgresql:// database too
bp = Blueprint("office_exceptions", __name__, url_prefix="/office")
bp.register_error_handler(ServerError, refused)
MAX_DAYS = 366


@bp.route("/exceptions")
@roles(*OFFICE)
def page():
    days = bounds.parse_int(request.args.get("days"), "days", 1, MAX_DAYS, default=30)
    return render_template("office_exceptions.html", sections=exceptions(db(), days=days), days=days)
