"""JSON API /api/v1 with token auth (`Authorization: Bearer TOKEN`): what the desk pages show, read-only."""

from __future__ import annotations

from functools import wraps

from flask import Blueprint, g, jsonify, request

from server.desk import accounts, bounds, cards, corrections, customers
from server.desk.errors import DeskError, InvalidInput
from server.web.context import EVERYONE, db, status_of

TILLS = (*EVERYONE, "till")

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def token_roles(*allowed: str):
    def decorate(view):
        @wraps(view)
        def checked(*args, **kwargs):
            header = request.headers.get("Authorization", "")
            user = accounts.user_for_token(db(), header[7:].strip()) if header.startswith("Bearer ") else None
            if user is None:
                return jsonify(
                    error="missing or unknown API token: send Authorization: Bearer TOKEN "
                    "(create one with `loyalty admin create-token NAME`)"
                ), 401
            if user.role not in allowed:
                return jsonify(error=f"your role ({user.role}) may not do this: ask a {' or '.join(allowed)}"), 403
            g.api_user = user
            return view(*args, **kwargs)

        checked.roles = allowed
        return checked

    return decorate


@bp.errorhandler(DeskError)
def refused(exc):
    return jsonify(error=str(exc)), status_of(exc)


@bp.route("/customers")
@token_roles(*EVERYONE)
def search():
    return jsonify(customers=customers.search(db(), request.args.get("q", "")))


@bp.route("/customers/<int:customer_id>")
@token_roles(*EVERYONE)
def customer(customer_id: int):
    shown = customers.view(db(), customer_id)
    return jsonify({**shown, "profile": profile_json(shown)})


def profile_json(shown: dict) -> dict | None:
    """The customer's profile (server/analytics/profile.py) in figures; None without their consent to profiling."""
    from datetime import datetime, timezone

    from flask import current_app

    from ..analytics.profile import customer_profile

    c = shown["customer"]
    if not c["consent_profiling"] or c["erased_at"]:
        return None
    return customer_profile(
        db(),
        c["id"],
        [card["number"] for card in shown["cards"]],
        datetime.now(timezone.utc).date(),
        cache_as=str(current_app.config["DB"]),
    ).as_json()


@bp.route("/customers/<int:customer_id>/statement")
@token_roles(*EVERYONE)
def statement(customer_id: int):
    start, end = _day("start"), _day("end")
    data = corrections.statement(db(), customer_id, start, end)
    return jsonify({**data, "start": start.isoformat(), "end": end.isoformat()})


def _day(name: str):
    day = bounds.parse_day(request.args.get(name, ""), name)
    if day is None:
        raise InvalidInput(f"give {name}=YYYY-MM-DD")
    return day


@bp.route("/cards/<number>")
@token_roles(*TILLS)
def card(number: str):
    return jsonify({**cards.get_card(db(), number), "balance": cards.card_balance(db(), number)})


@bp.route("/hotlist")
@token_roles(*TILLS)
def hotlist():
    return jsonify(cards=cards.hotlist(db()))


@bp.route("/anonymous-cards")
@token_roles(*EVERYONE)
def anonymous():
    return jsonify(cards=cards.anonymous_cards(db()))
