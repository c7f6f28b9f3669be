"""The POS API's calls: each parses its body, hands PosHost the work and answers; POST and DELETE answers are
kept by Idempotency-Key (idempotency.py). `document_problems` completes /openapi.json."""

from __future__ import annotations

import re

from apiflask import APIFlask
from flask import Response, g, request

from programme.i18n import _, language

from . import schemas
from .baskets import PosHost
from .idempotency import Reply, fingerprint
from .problems import MEDIA_TYPE, PosApiError

IDEMPOTENCY_HEADER = "Idempotency-Key"
_KEY = re.compile(schemas.IDEMPOTENCY_KEY_PATTERN)
ERROR_STATUSES = (400, 401, 404, 409, 415, 422)
WRITE = {"security": "pos"}


def answer(host: PosHost, action, body: str = "") -> Response:
    """Run a POST or DELETE once per Idempotency-Key: a call sent again gets the first answer."""
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
    done: Reply = host.call(pos, key, fingerprint(request.method, request.path, body), lambda: action(pos), language())
    # Sent as encoded once (and stored so): the answers' shapes are checked against /openapi.json by the tests.
    return Response(done.raw, done.status, mimetype="application/json")


def install(app: APIFlask, host: PosHost) -> None:
    """The calls, in the order /openapi.json lists them."""

    @app.get("/status")
    @app.output(schemas.StatusOut)
    @app.doc(security="pos", summary="The till: online, outbox backlog, rules version, reader, open basket")
    def status():
        return host.run(host.status)

    _basket_calls(app, host)
    _ticket_calls(app, host)
    app.spec_processor(document_problems)


def _ticket_calls(app: APIFlask, host: PosHost) -> None:
    @app.post("/returns")
    @app.input(schemas.ReturnIn, arg_name="body")
    @app.output(schemas.ReturnOut)
    @app.doc(summary="Return lines of an earlier ticket: refund, points reversed, receipt lines", **WRITE)
    def return_lines(body: schemas.ReturnIn):
        return answer(
            host, lambda pos: host.return_lines(pos, body.ticket, body.lines, body.tender), body.model_dump_json()
        )

    @app.post("/tickets/<ticket>/reprint")
    @app.output(schemas.ReprintOut)
    @app.doc(summary="Reprint a ticket's receipt, marked DUPLICATA", **WRITE)
    def reprint(ticket: str):
        return answer(host, lambda pos: host.reprint(pos, ticket))


def _basket_calls(app: APIFlask, host: PosHost) -> None:
    @app.post("/baskets")
    @app.input(schemas.OpenBasketIn, arg_name="body")
    @app.output(schemas.BasketOut, status_code=201)
    @app.doc(summary="Open a basket (one at a time)", **WRITE)
    def open_basket(body: schemas.OpenBasketIn):
        return answer(host, lambda pos: host.open_basket(pos, body.cashier), body.model_dump_json())

    @app.get("/baskets/<basket>")
    @app.output(schemas.BasketOut)
    @app.doc(summary="The basket as it stands", security="pos")
    def show_basket(basket: str):
        pos = g.pos
        return host.run(lambda: host.view(host._open(pos, basket)))

    @app.post("/baskets/<basket>/identify")
    @app.input(schemas.IdentifyIn, arg_name="body")
    @app.output(schemas.BasketOut)
    @app.doc(summary="Identify the card: typed or scanned number, the till's reader, or a phone number", **WRITE)
    def identify(basket: str, body: schemas.IdentifyIn):
        return answer(
            host,
            lambda pos: host.identify(pos, basket, body.card, body.from_reader, body.phone),
            body.model_dump_json(),
        )

    @app.post("/baskets/<basket>/evaluate")
    @app.input(schemas.EvaluateIn, arg_name="body")
    @app.output(schemas.BasketOut)
    @app.doc(summary="Send the whole basket: points per line and rule, offers, balance, what can be redeemed", **WRITE)
    def evaluate(basket: str, body: schemas.EvaluateIn):
        return answer(host, lambda pos: host.evaluate(pos, basket, body.lines), body.model_dump_json())

    @app.post("/baskets/<basket>/redeem")
    @app.input(schemas.RedeemIn, arg_name="body")
    @app.output(schemas.RedeemOut)
    @app.doc(summary="Redeem points (returns the amount to deduct) or issue loyalty cheques", **WRITE)
    def redeem(basket: str, body: schemas.RedeemIn):
        return answer(host, lambda pos: host.redeem(pos, basket, body.kind, body.points), body.model_dump_json())

    @app.post("/baskets/<basket>/commit")
    @app.input(schemas.CommitIn, arg_name="body")
    @app.output(schemas.CommitOut)
    @app.doc(summary="Close our ticket with the POS's ticket number and tenders; the receipt lines to print", **WRITE)
    def commit(basket: str, body: schemas.CommitIn):
        return answer(host, lambda pos: host.commit(pos, basket, body.pos_ticket, body.tenders), body.model_dump_json())

    @app.delete("/baskets/<basket>")
    @app.output(schemas.CancelOut)
    @app.doc(summary="Cancel the basket (points reserved for it are released)", **WRITE)
    def cancel(basket: str):
        return answer(host, lambda pos: host.cancel(pos, basket))


def document_problems(spec: dict) -> dict:
    """Every call may answer these problem documents; POST and DELETE take an Idempotency-Key."""
    from .schemas import Problem

    components = spec.setdefault("components", {}).setdefault("schemas", {})
    components["Problem"] = Problem.model_json_schema(ref_template="#/components/schemas/Problem.{model}")
    defs = components["Problem"].pop("$defs", {})
    for name, schema in defs.items():
        components[f"Problem.{name}"] = schema
    content = {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for _path, item in spec.get("paths", {}).items():
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
