"""Card actions from the customer page: issue, block, unblock, replace, merge; the hot-list is pushed after."""

from __future__ import annotations

import logging

from flask import Blueprint, current_app, flash, redirect, request, url_for
from flask_login import current_user

from programme.i18n import N_, _
from sync.broker_url import parse_broker_url
from sync.errors import SyncError
from sync.events import log_event

from server.desk import bounds, cards
from server.ingest import hotlist
from server.desk.errors import DeskError
from server.web.context import DESK, card_prefixes, db, roles, status_of
from .customers import show

bp = Blueprint("cards", __name__)
log = logging.getLogger("loyalty.web")


def push_hotlist() -> None:
    """Tills must learn a card change at once when a broker is configured; failing that, say so."""
    if not current_app.config.get("BROKER"):
        return
    try:
        hotlist.publish(db(), parse_broker_url(current_app.config["BROKER"]))
    except SyncError as exc:
        log_event(log, "hotlist_not_pushed", logging.WARNING, reason=str(exc))
        flash(str(exc), "warning")


@bp.route("/customers/<int:customer_id>/cards", methods=["POST"])
@roles(*DESK)
def issue(customer_id: int):
    number = request.form.get("number", "")
    try:
        attached = cards.issue(db(), customer_id, number, current_user.name, card_prefixes())
    except DeskError as exc:
        return show(customer_id, str(exc), status_of(exc))
    flash(
        _("Card {number} issued; {count} earlier ticket(s) attached to this customer.").format(
            number=number.strip(), count=attached
        )
    )
    return redirect(url_for("customers.view", customer_id=customer_id))


def _card_action(number: str, action):
    customer_id = cards.get_card(db(), number)["customer_id"]
    try:
        message = action()
    except DeskError as exc:
        return show(customer_id, str(exc), status_of(exc))
    push_hotlist()
    flash(message)
    return redirect(url_for("customers.view", customer_id=customer_id))


@bp.route("/cards/<number>/block", methods=["POST"])
@roles(*DESK)
def block(number: str):
    return _status_change(number, cards.block, N_("Card {number} blocked: {reason}."))


@bp.route("/cards/<number>/unblock", methods=["POST"])
@roles(*DESK)
def unblock(number: str):
    return _status_change(number, cards.unblock, N_("Card {number} unblocked: {reason}."))


def _status_change(number: str, change, done: str):
    reason = request.form.get("reason", "")

    def act():
        change(db(), number, reason, current_user.name)
        return _(done).format(number=number, reason=reason.strip())

    return _card_action(number, act)


@bp.route("/cards/<number>/replace", methods=["POST"])
@roles(*DESK)
def replace(number: str):
    new, why = request.form.get("new_number", ""), request.form.get("why", "")

    def act():
        points = cards.replace(db(), number, new, why, current_user.name, card_prefixes())
        return _("Card {number} {why} and replaced by {new}; {points} points moved.").format(
            number=number, why=_(why), new=new.strip(), points=points
        )

    return _card_action(number, act)


@bp.route("/cards/<number>/transfer", methods=["POST"])
@roles(*DESK)
def transfer(number: str):
    form = request.form

    def act():
        points = cards.transfer_points(
            db(),
            number,
            form.get("to_card", ""),
            form.get("points", ""),
            form.get("reason", ""),
            current_user.name,
            card_prefixes(),
        )
        return _("{points} points moved from card {number} to card {to_card}.").format(
            points=points, number=number, to_card=form.get("to_card", "").strip()
        )

    return _card_action(number, act)


@bp.route("/customers/<int:customer_id>/merge", methods=["POST"])
@roles(*DESK)
def merge(customer_id: int):
    other = request.form.get("other", "").strip()
    try:
        other_id = bounds.parse_id(other, "customer number", expected="a number: type the other customer's number")
        moved = cards.merge(db(), customer_id, other_id, current_user.name, request.form.get("reason", ""))
    except DeskError as exc:
        return show(customer_id, str(exc), status_of(exc))
    flash(
        _("Customer {other} merged into this one; {count} card(s) moved with their tickets and points.").format(
            other=other, count=moved
        )
    )
    return redirect(url_for("customers.view", customer_id=customer_id))
