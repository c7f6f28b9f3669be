"""Head office pages: customer value (with charts) and sync health. Views parse, call server.analytics, show."""

from __future__ import annotations

import threading
from datetime import date, datetime, timedelta, timezone

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for

from programme.i18n import _

from server.desk import bounds
from ..analytics import aggregate, health
from ..analytics import dashboard as figures
from ..analytics.dashboard import default_period
from ..analytics.refresher import Refresher
from ..analytics.replay import replay
from server.ingest import overdraft
from ..errors import ServerError
from server.web.context import db, roles
from .charts import deciles_svg, pareto_svg

bp = Blueprint("office", __name__, url_prefix="/office")
OFFICE = ("head_office", "admin")
_lock = threading.Lock()


def parse_day(name: str, default: date | None) -> date | None:
    return bounds.parse_day(request.args.get(name), name, default, how="write it as YYYY-MM-DD")


def period() -> tuple[date, date]:
    """The chosen period; by default the year up to the last day with sales."""
    first, last = default_period(db(), datetime.now(timezone.utc).date())
    end = parse_day("end", last)
    start = parse_day("start", first if end == last else end - timedelta(days=364))
    if end < start:
        raise ServerError(f"the period ends ({end}) before it starts ({start}): swap the dates")
    return start, end


def refused(exc: ServerError):
    """A head-office refusal: the page says what happened and what to do."""
    return render_template("error.html", title=_("Refused"), message=str(exc)), 400


bp.register_error_handler(ServerError, refused)
COMPUTING_REFRESH_S = 5  # the "being computed" page reloads itself this often


def refresher() -> Refresher:
    """The app's one background refresher, started on first need (so an app that never shows figures has none)."""
    with _lock:
        found = current_app.extensions.get("dashboard_refresher")
        if found is None:
            found = current_app.extensions["dashboard_refresher"] = Refresher(current_app.config["DB"])
        return found


def fold_if_small(conn) -> int:
    """Fold new tickets in the request when few (see dashboard.INLINE_TICKETS) and the refresher is idle (else
    the request would wait for its write lock), else leave it to the refresher. Returns how many tickets the
    aggregates do not count yet (0 once folded here)."""
    waiting = aggregate.pending(conn, limit=figures.INLINE_TICKETS + 1)
    if waiting == 0:
        return 0
    if waiting <= figures.INLINE_TICKETS and refresher().idle:
        aggregate.refresh(conn)
        return 0
    waiting = aggregate.pending(conn)  # counted before the refresher may fold them
    refresher().request_fold()
    return waiting


def as_of(computed_at: str | None) -> str:
    if not computed_at:
        return "an unrecorded time"
    return datetime.fromisoformat(computed_at).astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


@bp.route("/")
@roles(*OFFICE)
def index():
    return redirect(url_for("office.value_page"))


@bp.route("/value")
@roles(*OFFICE)
def value_page():
    """The last figures computed for the period, at once, saying how old they are; a stale period is handed to
    the background refresher. Figures never computed are computed here when small, else the page says so."""
    conn = db()
    start, end = period()
    found = figures.cached(conn, start, end)
    if found is None:
        if not refresher().idle or not figures.small_enough(conn, start, end):
            refresher().request(start, end)
            return render_template("office_value_computing.html", start=start, end=end, every=COMPUTING_REFRESH_S), 202
        figures.dashboard(conn, start, end)
        found = figures.cached(conn, start, end)
    moved = figures.behind(conn, found)
    if moved.stale:
        refresher().request(start, end)
    d = found.body
    return render_template(
        "office_value.html",
        start=start,
        end=end,
        d=d,
        as_of=as_of(found.computed_at),
        moved=moved,
        pareto_chart=pareto_svg(d["curve"]),
        deciles_chart=deciles_svg(d["deciles"]) if d["deciles"] else "",
    )


@bp.route("/sync")
@roles(*OFFICE)
def sync_health():
    conn = db()
    tills = health.till_health(conn, datetime.now(timezone.utc))
    totals = {s: sum(1 for t in tills if t["status"] == s) for s in ("red", "amber", "green")}
    return render_template(
        "office_sync.html",
        tills=tills,
        totals=totals,
        dead=health.dead_letters(conn),
        overdrafts=overdraft.recent(conn),
        amber_after=int(health.AMBER_AFTER.total_seconds() // 3600),
        backlog_amber_after=int(health.BACKLOG_AMBER_AFTER.total_seconds() // 60),
        status_amber_after=int(health.STATUS_AMBER_AFTER.total_seconds() // 60),
        status_red_after=int(health.STATUS_RED_AFTER.total_seconds() // 60),
    )


@bp.route("/dead-letters/<int:dead_letter_id>/replay", methods=["POST"])
@roles(*OFFICE)
def replay_dead_letter(dead_letter_id: int):
    result = replay(current_app.config["DB"], dead_letter_id, datetime.now(timezone.utc).isoformat())
    if result["ticket"] is None:  # a till's status report or request: nothing to ingest
        flash(_("Dead letter {id} closed: {outcome}.").format(id=dead_letter_id, outcome=result["outcome"]))
    else:
        flash(
            _("Dead letter {id} replayed: ticket {ticket} {outcome}.").format(
                id=dead_letter_id, ticket=result["ticket"], outcome=result["outcome"]
            )
        )
    return redirect(url_for("office.sync_health"))
