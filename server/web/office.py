"""Head office pages: customer value (with charts) and sync health. Views parse, call server.analytics, show."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from flask import Blueprint, redirect, render_template, request, url_for

from ..analytics import aggregate, health, points, rfm, value
from ..errors import ServerError
from . import db, roles
from .charts import deciles_svg, pareto_svg

bp = Blueprint("office", __name__, url_prefix="/office")
OFFICE = ("head_office", "admin")
TOP_CUSTOMERS = 20


def parse_day(name: str, default: date | None) -> date | None:
    raw = request.args.get(name, "").strip()
    if not raw:
        return default
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ServerError(f"{name} {raw!r} is not a date: write it as YYYY-MM-DD") from None


def period() -> tuple[date, date]:
    """The chosen period; by default the year up to the last day with sales."""
    conn = db()
    last = conn.execute("SELECT max(day) FROM card_day").fetchone()[0]
    end = parse_day("end", date.fromisoformat(last) if last else datetime.now(timezone.utc).date())
    start = parse_day("start", end - timedelta(days=364))
    if end < start:
        raise ServerError(f"the period ends ({end}) before it starts ({start}): swap the dates")
    return start, end


def refused(exc: ServerError):
    """A head-office refusal: the page says what happened and what to do."""
    return render_template("error.html", title="Refused", message=str(exc)), 400


bp.register_error_handler(ServerError, refused)


@bp.route("/")
@roles(*OFFICE)
def index():
    return redirect(url_for("office.value_page"))


@bp.route("/value")
@roles(*OFFICE)
def value_page():
    conn = db()
    aggregate.refresh(conn)  # incremental: only what arrived since the last page or job
    start, end = period()
    values = value.customer_values(conn, start, end)
    previous = value.customer_values(conn, *rfm.previous_period(start, end))
    retention = rfm.retention(values, previous)
    ranks = value.value_ranks(values)
    scores = rfm.rfm_scores(values)
    rank_counts: dict[str, int] = {}
    for rank in ranks.values():
        rank_counts[rank] = rank_counts.get(rank, 0) + 1
    groups = value.deciles(values) if values else []
    curve = value.pareto(values)
    top = [{"v": v, "rank": ranks[v.key], "rfm": scores[v.key].code,
            "ltv": rfm.lifetime_value_cents(v, start, end, retention)} for v in values[:TOP_CUSTOMERS]]
    return render_template(
        "office_value.html", start=start, end=end, customers=len(values),
        spend=sum(v.spend_cents for v in values), margin=sum(v.margin_cents for v in values),
        top20=value.top_share(values, 0.2), curve=curve, groups=groups, retention=retention,
        rank_counts=sorted(rank_counts.items(), key=lambda kv: _rank_order(kv[0])), top=top,
        stores=value.identification_by_store(conn, start, end),
        points=points.points_summary(conn, start, end, as_of=end),
        pareto_chart=pareto_svg(curve), deciles_chart=deciles_svg(groups) if groups else "")


def _rank_order(rank: str) -> int:
    if rank == "top decile":
        return 1
    if rank == "below zero":
        return 11
    return int(rank.split()[1])


@bp.route("/sync")
@roles(*OFFICE)
def sync_health():
    conn = db()
    tills = health.till_health(conn, datetime.now(timezone.utc))
    totals = {s: sum(1 for t in tills if t["status"] == s) for s in ("red", "amber", "green")}
    return render_template("office_sync.html", tills=tills, totals=totals, dead=health.dead_letters(conn),
                           amber_after=int(health.AMBER_AFTER.total_seconds() // 3600))
