"""Head office's next best offers: the offer types it defines, the daily choice, and each type's results
against its holdout (shown on the campaigns page, with the reason of any offer type stopped)."""

from __future__ import annotations

from datetime import datetime, timezone

from flask import Blueprint, current_app, flash, redirect, request, url_for

from programme.campaign_offers import MAX_MIN_BASKET_CENTS
from sync.broker_url import parse_broker_url
from sync.errors import SyncError

from programme.i18n import N_, _
from server.desk import bounds
from ..analytics import campaigns, next_offer, offer_results
from ..analytics import offer_definitions
from ..errors import ServerError
from ..ingest import reasons
from server.web.context import db, roles
from .office import OFFICE, fold_if_small, refused

RUNS_ON_POSTGRESQL = True
bp = Blueprint("office_next_offers", __name__, url_prefix="/office/next-offers")
bp.register_error_handler(ServerError, refused)


def overview(conn) -> dict:
    """What the campaigns page shows of the next best offers: each type with its results."""
    today = datetime.now(timezone.utc).date()
    return {"types": offer_results.results(conn, today), "kinds": offer_definitions.KINDS}


@bp.route("/types", methods=["POST"])
@roles(*OFFICE)
def define():
    form = request.form
    kind = form.get("kind", "")
    value = bounds.parse_int(form.get("value"), "points or euros", 1, campaigns.MAX_BONUS_POINTS)
    type_id = offer_definitions.define(
        db(),
        offer_definitions.OfferType(
            name=form.get("name", ""),
            kind=kind,
            category=form.get("category", ""),
            points=value if kind != "basket_cheque" else 0,
            cheque_cents=value * 100 if kind == "basket_cheque" else 0,
            min_basket_cents=bounds.parse_cents(form.get("min_basket"), N_("least basket"), MAX_MIN_BASKET_CENTS // 100)
            or 0,
            days=bounds.parse_int(form.get("days"), "days", 1, offer_definitions.MAX_DAYS, 7),
            holdout_per_mille=bounds.parse_int(
                form.get("holdout_percent"), "holdout %", 1, offer_definitions.MAX_HOLDOUT // 10, 10
            )
            * 10,
            min_run_days=bounds.parse_int(
                form.get("min_run_days"), "minimum run", 1, offer_definitions.MAX_RUN_DAYS, 28
            ),
        ),
    )
    flash(_("Offer type {id} defined: it is offered from the next choice.").format(id=type_id))
    return redirect(url_for("office_campaigns.campaigns"))


@bp.route("/choose", methods=["POST"])
@roles(*OFFICE)
def choose():
    """Stop the offer types that do harm, choose today's offers, and push them when a broker is configured."""
    conn = db()
    fold_if_small(conn)
    today = datetime.now(timezone.utc).date()
    for stopped in offer_results.stop_harmful(conn, today):
        why = reasons.shown(stopped["stopped_why"], stopped["stopped_json"])
        flash(_("Offer type {name} {why}.").format(name=stopped["name"], why=why))
    done = next_offer.run(conn, today)
    counts = {"chosen": done["targets"], "held": done["holdouts"]}
    broker = current_app.config.get("BROKER")
    if broker:
        try:
            campaigns.publish(conn, parse_broker_url(broker), today)
        except SyncError as exc:
            raise ServerError(
                _(
                    "{chosen} offer(s) chosen, {held} customer(s) held out, but the push failed: {why}; push again"
                ).format(why=exc, **counts)
            ) from None
        flash(_("{chosen} offer(s) chosen, {held} customer(s) held out, pushed to the tills.").format(**counts))
    else:
        flash(
            _(
                "{chosen} offer(s) chosen, {held} customer(s) held out; no broker is configured: push the offers "
                "when ready."
            ).format(**counts)
        )
    return redirect(url_for("office_campaigns.campaigns"))
