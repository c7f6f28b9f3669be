"""Head office's segments (live counts, consent-honouring export) and campaigns (create, push, analyse)."""

from __future__ import annotations

from datetime import date, datetime, timezone

from flask import Blueprint, Response, current_app, flash, redirect, render_template, request, url_for

from programme.campaign_offers import MAX_MIN_BASKET_CENTS
from programme.i18n import N_, _, format_date, format_money
from sync.broker_url import parse_broker_url
from sync.errors import SyncError

from server.desk import bounds
from server.desk.errors import InvalidInput
from ..analytics import campaigns as offers, segments as seg
from ..errors import ServerError
from server.web.context import db, roles
from .office import OFFICE, fold_if_small, period, refused

bp = Blueprint("office_campaigns", __name__, url_prefix="/office")
bp.register_error_handler(ServerError, refused)
RANKS = ["top decile", *[f"decile {n}" for n in range(2, 11)], "below zero"]
PREVIEW = 50


def _score(form, name: str) -> int:
    raw = form.get(name, "1") or "1"
    if raw not in {"1", "2", "3", "4", "5"}:
        raise ServerError(f"{name} {raw!r} is not an RFM score: choose 1 to 5")
    return int(raw)


def segment_spec(form) -> seg.SegmentSpec:
    start, end = period_from(form)
    tier = form.get("tier", "")
    if tier and tier not in seg.tier_names():
        raise ServerError(f"tier {tier!r} is not one of {', '.join(seg.tier_names())}")
    consent = form.get("consent", "")
    if consent not in ("", "email", "sms", "profiling"):
        raise ServerError(f"consent {consent!r} is not one of email, sms, profiling")
    return seg.SegmentSpec(
        start=start,
        end=end,
        min_r=_score(form, "min_r"),
        min_f=_score(form, "min_f"),
        min_m=_score(form, "min_m"),
        ranks=[r for r in form.getlist("rank") if r in RANKS],
        category=form.get("category", "").strip(),
        store=form.get("store", "").strip(),
        consent=consent,
        tier=tier,
    )


def period_from(form) -> tuple[date, date]:
    if form is request.args:
        return period()
    how = "give the segment's period as two dates (YYYY-MM-DD)"
    start, end = (bounds.parse_day(form.get(name), name, how=how) for name in ("start", "end"))
    if start is None or end is None:
        raise ServerError(_(how))
    return start, end


def _categories() -> list[str]:
    # sorted here: code point order is SQLite's, whatever a PostgreSQL database's collation
    return sorted(r[0] for r in db().execute("SELECT DISTINCT category FROM card_category"))


@bp.route("/segments")
@roles(*OFFICE)
def segments():
    conn = db()
    unfolded = fold_if_small(conn)
    spec = segment_spec(request.args)
    found = seg.members(conn, spec)
    return render_template(
        "office_segments.html",
        spec=spec,
        found=found[:PREVIEW],
        total=len(found),
        unfolded=unfolded,
        counts=seg.counts(conn, spec),
        ranks=RANKS,
        categories=_categories(),
        tiers=seg.tier_names(),
        query=request.args.to_dict(flat=False),
    )


@bp.route("/segments.csv")
@roles(*OFFICE)
def segment_export():
    conn = db()
    fold_if_small(conn)
    text, written, left_out = seg.export_csv(conn, segment_spec(request.args), request.args.get("channel", "email"))
    return Response(
        text,
        mimetype="text/csv",
        headers={
            "Content-Disposition": "attachment; filename=segment.csv",
            "X-Rows": str(written),
            "X-Left-Out-Without-Consent": str(left_out),
        },
    )


@bp.route("/campaigns")
@roles(*OFFICE)
def campaigns():
    from .office_next_offers import overview

    return render_template(
        "office_campaigns.html",
        campaigns=offers.list_campaigns(db()),
        nbo=overview(db()),
        spec=segment_spec(request.args),
        ranks=RANKS,
        categories=_categories(),
        tiers=seg.tier_names(),
        broker=bool(current_app.config.get("BROKER")),
    )


MAX_FORM_VALUE = 10**9  # points or euros; the library caps each kind far lower (campaigns.MAX_VALUES)
MAX_SEED = 2**31 - 1


def _int(form, name: str, lo: int, hi: int, default: int = 0) -> int:
    return bounds.parse_int(form.get(name), name.replace("_", " "), lo, hi, default)


def condition(form) -> tuple[str, int]:
    """The offer's condition from the form: (category, least basket in cents); empty fields: any basket."""
    category = form.get("offer_category", "").strip()
    if len(category) > offers.MAX_CATEGORY:
        raise InvalidInput(
            _("{what} {value!r} is too long: at most {most} characters").format(
                what=_("offer category"),
                value=category[: bounds.MAX_DIGITS] + "...",
                most=offers.MAX_CATEGORY,
            )
        )
    raw = (form.get("min_basket") or "").strip()
    cents = bounds.parse_cents(raw, N_("least basket")) or 0
    if not 0 <= cents <= MAX_MIN_BASKET_CENTS:
        raise InvalidInput(
            _("{what} {value} is out of range: give an amount from {low} to {high}").format(
                what=_("least basket"), value=raw, low=format_money(0), high=format_money(MAX_MIN_BASKET_CENTS)
            )
        )
    return category, cents


@bp.route("/campaigns", methods=["POST"])
@roles(*OFFICE)
def create():
    form = request.form
    fold_if_small(db())
    how = "give the campaign's start and end days (YYYY-MM-DD)"
    starts, ends = (bounds.parse_day(form.get(name), name, how=how) for name in ("starts", "ends"))
    if starts is None or ends is None:
        raise ServerError(_(how))
    kind = form.get("kind", "bonus_points")
    amount = _int(form, "value", 1, MAX_FORM_VALUE)
    category, least = condition(form)
    campaign = offers.Campaign(
        name=form.get("name", ""),
        segment=segment_spec(form),
        kind=kind,
        starts=starts,
        ends=ends,
        points=amount if kind == "bonus_points" else 0,
        cheque_cents=amount * 100 if kind == "cheque" else 0,
        stores=[s.strip() for s in form.get("stores", "").split(",") if s.strip()],
        control_per_mille=_int(form, "control_percent", 1, 99, 10) * 10,
        seed=_int(form, "seed", 0, MAX_SEED),
        category=category,
        min_basket_cents=least,
    )
    campaign_id = offers.create(db(), campaign)
    flash(_("Campaign {id} created; push the offers to the tills when ready.").format(id=campaign_id))
    return redirect(url_for("office_campaigns.campaign", campaign_id=campaign_id))


@bp.route("/campaigns/push", methods=["POST"])
@roles(*OFFICE)
def push():
    broker = current_app.config.get("BROKER")
    if not broker:
        raise ServerError("no broker configured: start the web app with --broker (or LOYALTY_BROKER) to push offers")
    try:
        sent = offers.publish(db(), parse_broker_url(broker), datetime.now(timezone.utc).date())
    except SyncError as exc:
        raise ServerError(str(exc)) from None
    flash(_("{count} offer(s) pushed to every till (retained).").format(count=sent))
    return redirect(url_for("office_campaigns.campaigns"))


@bp.route("/campaigns/<int:campaign_id>/stop", methods=["POST"])
@roles(*OFFICE)
def stop(campaign_id: int):
    """Stop a campaign now; with a broker, push the offers at once so the tills drop it."""
    today = datetime.now(timezone.utc).date()
    stopped = offers.stop(db(), campaign_id, today)
    broker = current_app.config.get("BROKER")
    if not broker:
        flash(
            _(
                "Campaign {id} stopped (last day {day}); no broker is configured: the tills drop it at the next push."
            ).format(id=campaign_id, day=format_date(date.fromisoformat(str(stopped["ends"]))))
        )
    else:
        try:
            offers.publish(db(), parse_broker_url(broker), today)
        except SyncError as exc:
            raise ServerError(f"campaign {campaign_id} stopped, but the push failed: {exc}; push again") from None
        flash(
            _("Campaign {id} stopped (last day {day}) and the offers pushed: the tills drop it.").format(
                id=campaign_id, day=format_date(date.fromisoformat(str(stopped["ends"])))
            )
        )
    return redirect(url_for("office_campaigns.campaign", campaign_id=campaign_id))


@bp.route("/campaigns/<int:campaign_id>")
@roles(*OFFICE)
def campaign(campaign_id: int):
    conn = db()
    fold_if_small(conn)
    return render_template(
        "office_campaign.html",
        c=offers.get(conn, campaign_id),
        a=offers.analyse(conn, campaign_id),
        today=datetime.now(timezone.utc).date().isoformat(),
    )
