"""What the web app answers when it refuses: an error page for people, JSON under /api/ (docs/api.md)."""

from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from programme.i18n import _
from server.desk.errors import DeskError
from server.web.context import status_of

API_PREFIX = "/api/"


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


def csrf_refused(exc):
    return render_template(
        "error.html",
        title=_("Form refused"),
        message=_("{reason} Reload the page and send the form again.").format(reason=_(exc.description)),
    ), 400


def forbidden(exc):
    if request.path.startswith(API_PREFIX):
        return api_http_error(exc)
    return render_template("error.html", title=_("Not allowed"), message=exc.description), 403


def not_found(exc):
    if request.path.startswith(API_PREFIX):
        return api_http_error(exc)
    return render_template("error.html", title=_("Not found"), message=exc.description), 404


def refused(exc):
    return render_template("error.html", title=_("Refused"), message=str(exc)), status_of(exc)


def install(app: Flask) -> None:
    app.register_error_handler(HTTPException, api_http_error)
    app.register_error_handler(CSRFError, csrf_refused)
    app.register_error_handler(403, forbidden)
    app.register_error_handler(404, not_found)
    app.register_error_handler(DeskError, refused)
