"""Customer pages: search, enrol, view, edit, statement, points adjustment, GDPR export and erasure."""

from __future__ import annotations

import json
from datetime import date, timedelta

from flask import Blueprint, Response, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from programme.i18n import _

from server.desk import cards as cardlib
from server.desk import bounds, corrections, customers, gdpr
from server.desk import statement_pdf as pdf
from server.analytics import explorer
from server.desk.errors import DeskError
from server.web.context import DESK, EVERYONE, db, roles, status_of

bp = Blueprint("customers", __name__)


def show(customer_id: int, error: str | None = None, status: int = 200):
    """The customer page; an action that was refused shows it again with the reason."""
    shown = customers.view(db(), customer_id)
    return render_template("customer.html", error=error, known=known_about(shown), **shown), status


def known_about(shown: dict) -> list[str]:
    """ "What we know": the customer's profile in sentences, when they agreed to profiling."""
    from datetime import datetime, timezone

    from ..analytics.profile import customer_profile, sentences
    from programme.i18n import _

    c = shown["customer"]
    if not c["consent_profiling"] or c["erased_at"]:
        return [_("This customer has not agreed to profiling: nothing is worked out from their tickets.")]
    found = customer_profile(
        db(),
        c["id"],
        [card["number"] for card in shown["cards"]],
        datetime.now(timezone.utc).date(),
        cache_as=str(current_app.config["DB"]),
    )
    return sentences(found)


@bp.route("/")
@roles(*EVERYONE)
def index():
    return redirect(url_for("customers.search"))


@bp.route("/customers")
@roles(*EVERYONE)
def search():
    q = request.args.get("q", "")
    return render_template("search.html", q=q, results=customers.search(db(), q) if q else None)


@bp.route("/customers/new", methods=["GET", "POST"])
@roles(*DESK)
def enrol():
    if request.method == "GET":
        return render_template("customer_form.html", form={}, mode="enrol")
    try:
        customer_id = customers.enrol(db(), request.form, current_user.name)
    except DeskError as exc:
        return render_template("customer_form.html", form=request.form, mode="enrol", error=str(exc)), status_of(exc)
    flash(_("Customer {id} enrolled. Issue a card below.").format(id=customer_id))
    return redirect(url_for("customers.view", customer_id=customer_id))


@bp.route("/customers/<int:customer_id>")
@roles(*EVERYONE)
def view(customer_id: int):
    return show(customer_id)


@bp.route("/customers/<int:customer_id>/edit", methods=["GET", "POST"])
@roles(*DESK)
def edit(customer_id: int):
    if request.method == "GET":
        return render_template(
            "customer_form.html", form=customers.get(db(), customer_id), mode="edit", customer_id=customer_id
        )
    try:
        changes = customers.update(db(), customer_id, request.form, current_user.name)
    except DeskError as exc:
        return render_template(
            "customer_form.html", form=request.form, mode="edit", customer_id=customer_id, error=str(exc)
        ), status_of(exc)
    flash(_("Saved: {fields}.").format(fields=", ".join(changes)) if changes else _("Nothing changed."))
    return redirect(url_for("customers.view", customer_id=customer_id))


@bp.route("/customers/<int:customer_id>/adjust", methods=["POST"])
@roles(*DESK)
def adjust(customer_id: int):
    form = request.form
    try:
        corrections.adjust(
            db(),
            customer_id,
            form.get("card") or None,
            form.get("points", ""),
            form.get("reason", ""),
            current_user.name,
        )
    except DeskError as exc:
        return show(customer_id, str(exc), status_of(exc))
    flash(
        _("Adjusted by {points} points: {reason}.").format(points=form.get("points"), reason=form.get("reason").strip())
    )
    return redirect(url_for("customers.view", customer_id=customer_id))


def _statement(customer_id: int) -> dict:
    today = date.today()
    start = bounds.parse_day(request.args.get("start"), "start", today - timedelta(days=90))
    end = bounds.parse_day(request.args.get("end"), "end", today)
    return corrections.statement(db(), customer_id, start, end)


@bp.route("/customers/<int:customer_id>/statement")
@roles(*EVERYONE)
def statement(customer_id: int):
    from programme.vat import ticket_vat_table

    data = _statement(customer_id)
    bought = explorer.customer_tickets(db(), customer_id, data["start"], data["end"])
    purchases = [(ticket, ticket_vat_table(ticket)) for ticket in bought]  # the PDF's tables (statement_pdf)
    return render_template("statement.html", **data, purchases=purchases, limit=explorer.STATEMENT_TICKETS)


@bp.route("/customers/<int:customer_id>/statement.pdf")
@roles(*EVERYONE)
def statement_pdf(customer_id: int):
    data = _statement(customer_id)
    bought = explorer.customer_tickets(db(), customer_id, data["start"], data["end"])
    return Response(
        pdf.statement_pdf(data, bought, explorer.STATEMENT_TICKETS),
        mimetype="application/pdf",
        headers={"Content-Disposition": f"inline; filename=statement-{customer_id}-{data['start']}-{data['end']}.pdf"},
    )


@bp.route("/customers/<int:customer_id>/export.<fmt>")
@roles(*DESK)
def export(customer_id: int, fmt: str):
    if fmt not in ("json", "csv"):
        return render_template("error.html", title=_("Not found"), message=_("export as .json or .csv")), 404
    data = gdpr.export(db(), customer_id, current_user.name)
    body = json.dumps(data, indent=2, default=str) if fmt == "json" else gdpr.export_csv(data)
    return Response(
        body,
        mimetype="application/json" if fmt == "json" else "text/csv",
        headers={"Content-Disposition": f"attachment; filename=customer-{customer_id}.{fmt}"},
    )


@bp.route("/customers/<int:customer_id>/erase", methods=["POST"])
@roles(*DESK)
def erase(customer_id: int):
    if request.form.get("confirm") != "erase":
        return show(customer_id, "type erase in the box to confirm the erasure", 400)
    try:
        pseudonym = gdpr.erase(db(), customer_id, current_user.name, request.form.get("reason") or "erasure request")
    except DeskError as exc:
        return show(customer_id, str(exc), status_of(exc))
    flash(_("Personal data erased; tickets and points kept under {pseudonym}.").format(pseudonym=pseudonym))
    return redirect(url_for("customers.view", customer_id=customer_id))


@bp.route("/cards/anonymous")
@roles(*EVERYONE)
def anonymous():
    return render_template("anonymous.html", cards=cardlib.anonymous_cards(db()))
