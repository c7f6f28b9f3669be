"""How the POS API answers what fails: every refusal and every failure is a problem document (problems.py)."""

from __future__ import annotations

from apiflask import APIFlask
from apiflask.exceptions import HTTPError
from flask import current_app, request
from pydantic import ValidationError
from werkzeug.exceptions import HTTPException

from programme.i18n import _

from . import schemas
from .problems import MEDIA_TYPE, PosApiError, from_till_error, problem


def problem_response(doc: dict, headers: dict | None = None):
    return doc, doc["status"], {"Content-Type": MEDIA_TYPE, **(headers or {})}


def failed_to_answer() -> dict:
    return problem("internal_error", _("the till failed to answer: try again, and tell the store's IT if it goes on"))


def as_problem(error: HTTPError):
    """APIFlask's own errors: a body that does not validate, a call or method that does not exist, not JSON."""
    cause = error.__cause__
    if isinstance(cause, ValidationError):
        errors = schemas.field_errors(cause.errors(include_url=False))
        return problem_response(problem("invalid_request", errors[0]["detail"], errors))
    if error.status_code == 404:
        return problem_response(problem("not_found", _("no such call: see /openapi.json for the calls")))
    if error.status_code == 405:
        return problem_response(
            problem(
                "method_not_allowed",
                _("{method} is not a method of {path}: see /openapi.json").format(
                    method=request.method, path=request.path
                ),
            )
        )
    if error.status_code == 415:
        return problem_response(problem("unsupported_media_type", _("send the body as application/json")))
    if error.status_code == 400:
        return problem_response(
            problem(
                "malformed_request", _("the body is not JSON: send a JSON object with Content-Type: application/json")
            )
        )
    return problem_response(failed_to_answer())


def refused(error: PosApiError):
    return problem_response(error.document())


def failed(error: Exception):
    """Routing errors as APIFlask's; the till's and the programme's refusals with their own text; anything else
    logged and answered as the till's failure."""
    if isinstance(error, HTTPException):  # routing: 404, 405 and the like
        return as_problem(HTTPError(error.code or 500))
    from programme.errors import ProgrammeError

    from ..errors import TillError

    if isinstance(error, (TillError, ProgrammeError)):
        return problem_response(from_till_error(error).document())
    current_app.logger.exception("POS call failed")
    return problem_response(failed_to_answer())


def install(app: APIFlask) -> None:
    app.error_processor(as_problem)
    app.register_error_handler(PosApiError, refused)
    app.register_error_handler(Exception, failed)
