"""The POS API's HTTP edge (APIFlask): parse, call PosHost, answer; /openapi.json is written from the code.

Every call but /openapi.json carries `Authorization: Bearer <token>` (tokens.py); every POST and DELETE carries
an `Idempotency-Key` (idempotency.py). Every refusal is a problem document (problems.py).
"""

from __future__ import annotations

import re
import time

from apiflask import APIFlask
from apiflask.exceptions import HTTPError
from flask import Response, g, request
from pydantic import ValidationError
from werkzeug.exceptions import HTTPException

from programme.i18n import LANGUAGES, _, language, use_language

from . import schemas
from .baskets import PosHost
from .idempotency import Reply, fingerprint
from .problems import MEDIA_TYPE, PosApiError, from_till_error, problem

IDEMPOTENCY_HEADER = "Idempotency-Key"
_KEY = re.compile(schemas.IDEMPOTENCY_KEY_PATTERN)
TOKEN_RELOAD_EVERY = 1.0  # seconds: a token made or replaced while the till serves counts within this
PUBLIC = {"/openapi.json"}
ERROR_STATUSES = (400, 401, 404, 409, 415, 422)


def _problem_response(doc: dict, headers: dict | None = None):
    return doc, doc["status"], {"Content-Type": MEDIA_TYPE, **(headers or {})}


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
    cache = {"tokens": host.tokens(), "at": time.monotonic()}

    @app.before_request
    def speak_the_pos_language():
        """Messages in the first language of Accept-Language the till speaks; else the till's (LOYALTY_LANG)."""
        chosen = next(
            (tag for tag in request.accept_languages.values() if tag.split("-")[0].lower() in LANGUAGES), None
        )
        if chosen:
            g.language = use_language(chosen)
            g.language.__enter__()

    @app.teardown_request
    def speak_the_tills_language_again(error=None):
        if "language" in g:
            g.language.__exit__(None, None, None)

    @app.before_request
    def authenticate():
        if request.path in PUBLIC:
            return None
        header = request.headers.get("Authorization", "")
        scheme, _sep, token = header.partition(" ")
        pos = None
        if scheme.lower() == "bearer" and token.strip():
            from .tokens import pos_of

            if time.monotonic() - cache["at"] >= TOKEN_RELOAD_EVERY:  # a token made or replaced meanwhile
                cache.update(tokens=host.tokens(), at=time.monotonic())
            pos = pos_of(cache["tokens"], token.strip())
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

    @app.error_processor
    def as_problem(error: HTTPError):
        cause = error.__cause__
        if isinstance(cause, ValidationError):
            errors = schemas.field_errors(cause.errors(include_url=False))
            return _problem_response(problem("invalid_request", errors[0]["detail"], errors))
        if error.status_code == 404:
            return _problem_response(problem("not_found", _("no such call: see /openapi.json for the calls")))
        if error.status_code == 405:
            return _problem_response(
                problem(
                    "method_not_allowed",
                    _("{method} is not a method of {path}: see /openapi.json").format(
                        method=request.method, path=request.path
                    ),
                )
            )
        if error.status_code == 415:
            return _problem_response(problem("unsupported_media_type", _("send the body as application/json")))
        if error.status_code == 400:
            return _problem_response(
                problem(
                    "malformed_request",
                    _("the body is not JSON: send a JSON object with Content-Type: application/json"),
                )
            )
        return _problem_response(
            problem("internal_error", _("the till failed to answer: try again, and tell the store's IT if it goes on"))
        )

    @app.errorhandler(PosApiError)
    def refused(error: PosApiError):
        return _problem_response(error.document())

    @app.errorhandler(Exception)
    def failed(error: Exception):
        if isinstance(error, HTTPException):  # routing: 404, 405 and the like
            return as_problem(HTTPError(error.code or 500))
        from programme.errors import ProgrammeError

        from ..errors import TillError

        if isinstance(error, (TillError, ProgrammeError)):
            return _problem_response(from_till_error(error).document())
        app.logger.exception("POS call failed")
        return _problem_response(
            problem("internal_error", _("the till failed to answer: try again, and tell the store's IT if it goes on"))
        )

    def answer(action, body: str = "") -> Response:
        key = request.headers.get(IDEMPOTENCY_HEADER)
        if key is None:
            raise PosApiError(
                "idempotency_key_missing",
                _(
                    "send an Idempotency-Key header with every POST and DELETE (a new random key per call, the same "
                    "key when the call is sent again)"
                ),
            )
        if not _KEY.match(key):
            raise PosApiError(
                "invalid_request", _("the Idempotency-Key is 1 to 200 printable characters without spaces, e.g. a UUID")
            )
        pos = g.pos  # the session's thread has no request context: everything it needs is passed
        done: Reply = host.call(
            pos, key, fingerprint(request.method, request.path, body), lambda: action(pos), language()
        )
        # Sent as encoded once (and stored so): the answers' shapes are checked against /openapi.json by the tests.
        return Response(done.raw, done.status, mimetype="application/json")

    write = {"security": "pos"}

    @app.get("/status")
    @app.output(schemas.StatusOut)
    @app.doc(security="pos", summary="The till: online, outbox backlog, rules version, reader, open basket")
    def status():
        return host.run(host.status)

    @app.post("/baskets")
    @app.input(schemas.OpenBasketIn, arg_name="body")
    @app.output(schemas.BasketOut, status_code=201)
    @app.doc(summary="Open a basket (one at a time)", **write)
    def open_basket(body: schemas.OpenBasketIn):
        return answer(lambda pos: host.open_basket(pos, body.cashier), body.model_dump_json())

    @app.get("/baskets/<basket>")
    @app.output(schemas.BasketOut)
    @app.doc(summary="The basket as it stands", security="pos")
    def show_basket(basket: str):
        pos = g.pos
        return host.run(lambda: host.view(host._open(pos, basket)))

    @app.post("/baskets/<basket>/identify")
    @app.input(schemas.IdentifyIn, arg_name="body")
    @app.output(schemas.BasketOut)
    @app.doc(summary="Identify the card: typed or scanned number, the till's reader, or a phone number", **write)
    def identify(basket: str, body: schemas.IdentifyIn):
        return answer(
            lambda pos: host.identify(pos, basket, body.card, body.from_reader, body.phone), body.model_dump_json()
        )

    @app.post("/baskets/<basket>/evaluate")
    @app.input(schemas.EvaluateIn, arg_name="body")
    @app.output(schemas.BasketOut)
    @app.doc(summary="Send the whole basket: points per line and rule, offers, balance, what can be redeemed", **write)
    def evaluate(basket: str, body: schemas.EvaluateIn):
        return answer(lambda pos: host.evaluate(pos, basket, body.lines), body.model_dump_json())

    @app.post("/baskets/<basket>/redeem")
    @app.input(schemas.RedeemIn, arg_name="body")
    @app.output(schemas.RedeemOut)
    @app.doc(summary="Redeem points (returns the amount to deduct) or issue loyalty cheques", **write)
    def redeem(basket: str, body: schemas.RedeemIn):
        return answer(lambda pos: host.redeem(pos, basket, body.kind, body.points), body.model_dump_json())

    @app.post("/baskets/<basket>/commit")
    @app.input(schemas.CommitIn, arg_name="body")
    @app.output(schemas.CommitOut)
    @app.doc(summary="Close our ticket with the POS's ticket number and tenders; the receipt lines to print", **write)
    def commit(basket: str, body: schemas.CommitIn):
        return answer(lambda pos: host.commit(pos, basket, body.pos_ticket, body.tenders), body.model_dump_json())

    @app.delete("/baskets/<basket>")
    @app.output(schemas.CancelOut)
    @app.doc(summary="Cancel the basket (points reserved for it are released)", **write)
    def cancel(basket: str):
        return answer(lambda pos: host.cancel(pos, basket))

    @app.post("/returns")
    @app.input(schemas.ReturnIn, arg_name="body")
    @app.output(schemas.ReturnOut)
    @app.doc(summary="Return lines of an earlier ticket: refund, points reversed, receipt lines", **write)
    def return_lines(body: schemas.ReturnIn):
        return answer(lambda pos: host.return_lines(pos, body.ticket, body.lines, body.tender), body.model_dump_json())

    @app.post("/tickets/<ticket>/reprint")
    @app.output(schemas.ReprintOut)
    @app.doc(summary="Reprint a ticket's receipt, marked DUPLICATA", **write)
    def reprint(ticket: str):
        return answer(lambda pos: host.reprint(pos, ticket))

    @app.spec_processor
    def document_problems(spec: dict) -> dict:
        """Every call may answer these problem documents; POST and DELETE take an Idempotency-Key."""
        from .schemas import Problem

        components = spec.setdefault("components", {}).setdefault("schemas", {})
        components["Problem"] = Problem.model_json_schema(ref_template="#/components/schemas/Problem.{model}")
        defs = components["Problem"].pop("$defs", {})
        for name, schema in defs.items():
            components[f"Problem.{name}"] = schema
        content = {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
        for path, item in spec.get("paths", {}).items():
            for method, operation in item.items():
                if method not in ("get", "post", "put", "delete"):
                    continue
                if "requestBody" in operation:  # a JSON object, `{}` at least
                    operation["requestBody"]["required"] = True
                responses = operation.setdefault("responses", {})
                for status in ERROR_STATUSES:
                    responses[str(status)] = {"description": "A problem document (RFC 9457)", "content": content}
                if method in ("post", "delete"):
                    operation.setdefault("parameters", []).append(
                        {
                            "name": IDEMPOTENCY_HEADER,
                            "in": "header",
                            "required": True,
                            "schema": {"type": "string", "pattern": schemas.IDEMPOTENCY_KEY_PATTERN},
                            "description": "A new random key per call; the same key to resend the call.",
                        }
                    )
        return spec

    return app
