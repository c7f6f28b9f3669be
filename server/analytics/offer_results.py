"""What the next best offers did: per offer type (and per policy of the three-way check), the net margin per
customer of the targets against the holdout over each offer's days, with Welch's 95% interval; offer types
whose interval stays below zero after their minimum run are stopped, with the reason head office reads.

A customer's net margin over an offer's days is the estimated margin of their tickets (card_day, so run the
aggregates first) minus what the offer cost: its points at the cash value of a point, or the cheque's value
for each cheque the tills issued (the `offer:<campaign id>` entries of the ledger). Holdout customers were
chosen the same way and got nothing, so the difference of the means is what the offer caused.

Customers differ far more from each other than an offer moves them, so each is also compared with their own
past (CUPED, Deng et al. 2013): the outcome is adjusted by theta x (their margin over the BEFORE_DAYS before
the offer, scaled to the offer's days, minus its mean), theta = cov(outcome, past) / var(past) over everyone
measured. The past is from before the draw, so the adjustment cannot favour either group: the difference of
the adjusted means estimates the same uplift, with a much narrower interval. The raw difference is kept too.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from sync.events import log_event

from server.ingest import reasons
from server.storage.connection import joined_or_own_transaction
from . import campaigns
from .offer_definitions import offer_types
from .stats import welch_interval
from .value import point_value_cents

log = logging.getLogger("loyalty.next_offer")
CONFIDENCE = 0.95
BEFORE_DAYS = 84


@dataclass(frozen=True)
class Outcome:
    offer_type: int
    policy: str
    cell: str
    grp: str
    day: str
    net_cents: int
    before_cents: float = 0.0  # margin over the BEFORE_DAYS before the offer, scaled to its days


def outcomes(conn, until: date) -> list[Outcome]:
    """Every choice whose offer started by `until`, with the customer's net margin over its days (to `until`)."""
    last = until.isoformat()
    margin: dict[tuple[int, str], int] = {}
    for campaign_id, customer, cents in conn.execute(
        "SELECT m.campaign_id, m.customer, sum(d.margin_cents) FROM nbo_choices n "
        "JOIN campaigns c ON c.id = n.campaign_id "
        "JOIN campaign_members m ON m.campaign_id = n.campaign_id AND m.customer = n.customer "
        "JOIN card_day d ON d.card = m.card AND d.day >= c.starts AND d.day <= c.ends AND d.day <= ? "
        "GROUP BY m.campaign_id, m.customer",
        (last,),
    ):
        margin[(campaign_id, customer)] = cents
    cost: dict[tuple[int, str], int] = {}
    point = point_value_cents()
    for campaign_id, customer, kind, cheque, points, uses in conn.execute(
        "SELECT m.campaign_id, m.customer, c.kind, c.cheque_cents, sum(l.points), count(*) FROM nbo_choices n "
        "JOIN campaigns c ON c.id = n.campaign_id "
        "JOIN campaign_members m ON m.campaign_id = n.campaign_id AND m.customer = n.customer "
        "JOIN ledger l ON l.card = m.card AND l.rule = 'offer:' || CAST(m.campaign_id AS TEXT) "
        "WHERE substr(l.at, 1, 10) <= ? GROUP BY m.campaign_id, m.customer, c.kind, c.cheque_cents",
        (last,),
    ):
        cost[(campaign_id, customer)] = uses * cheque if kind == "cheque" else points * point
    windows = {
        cid: (date.fromisoformat(starts), date.fromisoformat(ends))
        for cid, starts, ends in conn.execute(
            "SELECT id, starts, ends FROM campaigns WHERE id IN (SELECT DISTINCT campaign_id FROM nbo_choices)"
        )
    }
    before: dict[tuple[int, str], int] = {}
    for campaign_id, starts in {(cid, w[0]) for cid, w in windows.items()}:
        for customer, cents in conn.execute(
            "SELECT m.customer, sum(d.margin_cents) FROM campaign_members m JOIN card_day d ON d.card = m.card "
            "AND d.day >= ? AND d.day < ? WHERE m.campaign_id = ? GROUP BY m.customer",
            ((starts - timedelta(days=BEFORE_DAYS)).isoformat(), starts.isoformat(), campaign_id),
        ):
            before[(campaign_id, customer)] = cents
    found = []
    for type_id, policy, cell, grp, day, customer, campaign_id in conn.execute(
        "SELECT n.offer_type_id, n.policy, n.cell, n.grp, n.day, n.customer, n.campaign_id FROM nbo_choices n "
        "WHERE n.day <= ? ORDER BY n.day, n.customer",
        (last,),
    ):
        key = (campaign_id, customer)
        starts, ends = windows[campaign_id]
        days = (min(ends, until) - starts).days + 1
        found.append(
            Outcome(
                type_id,
                policy,
                cell,
                grp,
                day,
                margin.get(key, 0) - cost.get(key, 0),
                before.get(key, 0) * days / BEFORE_DAYS,
            )
        )
    return found


def _theta(rows: list[Outcome]) -> float:
    n = len(rows)
    if n < 3:
        return 0.0
    mx = sum(o.before_cents for o in rows) / n
    my = sum(o.net_cents for o in rows) / n
    var = sum((o.before_cents - mx) ** 2 for o in rows)
    cov = sum((o.before_cents - mx) * (o.net_cents - my) for o in rows)
    return cov / var if var else 0.0


def _mean(values: list) -> float:
    return sum(values) / len(values) if values else 0.0


def _compare(rows: list[Outcome]) -> dict:
    """Targets against holdout: raw means, and the uplift and Welch interval on CUPED-adjusted outcomes."""
    theta = _theta(rows)
    mx = _mean([o.before_cents for o in rows])
    target = [o.net_cents for o in rows if o.grp == "target"]
    holdout = [o.net_cents for o in rows if o.grp == "holdout"]
    adjusted = {
        grp: [o.net_cents - theta * (o.before_cents - mx) for o in rows if o.grp == grp]
        for grp in ("target", "holdout")
    }
    interval = welch_interval(adjusted["target"], adjusted["holdout"], CONFIDENCE)
    return {
        "targets": len(target),
        "holdouts": len(holdout),
        "mean_target_cents": _mean(target),
        "mean_holdout_cents": _mean(holdout),
        "raw_uplift_cents": _mean(target) - _mean(holdout),
        "theta": theta,
        "uplift_cents": _mean(adjusted["target"]) - _mean(adjusted["holdout"]),
        "interval": None
        if interval is None
        else {"low": interval.low, "high": interval.high, "df": interval.df, "confidence": CONFIDENCE},
    }


def learnt_cells(conn, day: date) -> dict[tuple[int, str], tuple[int, float]]:
    """(offer type, cell) -> (weight, measured uplift in cents) from the offers that started before `day`: the
    weight is the effective sample size 1 / (1/targets + 1/holdouts); no entry without two of each."""
    groups: dict[tuple[int, str], list[Outcome]] = {}
    for o in outcomes(conn, day):
        if o.day < day.isoformat():
            groups.setdefault((o.offer_type, o.cell), []).append(o)
    found = {}
    for key, rows in groups.items():
        r = _compare(rows)
        if r["targets"] >= 2 and r["holdouts"] >= 2:
            found[key] = (round(1 / (1 / r["targets"] + 1 / r["holdouts"])), r["uplift_cents"])
    return found


def results(conn, today: date, policy: str | None = "model") -> list[dict]:
    """Per offer type: its definition, first and last day chosen, days run, and target against holdout
    (only the choices of `policy`; None: every policy)."""
    rows = [o for o in outcomes(conn, today) if policy is None or o.policy == policy]
    found = []
    for t in offer_types(conn):
        mine = [o for o in rows if o.offer_type == t["id"]]
        first = min((o.day for o in mine), default=None)
        ran = (today - date.fromisoformat(first)).days + 1 if first else 0
        found.append({**t, "first_day": first, "days_run": ran, **_compare(mine)})
    return found


def by_policy(conn, until: date) -> dict[str, dict]:
    """The three-way check: per policy, target against holdout over every offer type (a pooled comparison:
    each policy's holdout has its own mix of offer types, drawn the same way as its targets)."""
    rows = outcomes(conn, until)
    return {policy: _compare([o for o in rows if o.policy == policy]) for policy in sorted({o.policy for o in rows})}


def stop_harmful(conn, today: date, now: str | None = None) -> list[dict]:
    """Stop every offer type that has run its minimum days and whose whole interval is below zero: it is no
    longer chosen, its open campaigns stop (the tills drop them at the next push), and the reason is kept."""
    now = now or datetime.now(timezone.utc).isoformat(timespec="seconds")
    stopped = []
    for r in results(conn, today):
        i = r["interval"]
        if r["stopped_at"] or i is None or r["days_run"] < r["min_run_days"] or i["high"] >= 0:
            continue
        parts = [
            reasons.part(
                "offer_type_harmful",
                day=today.isoformat(),
                days=r["days_run"],
                uplift_signed_cents=r["uplift_cents"],
                level_percent=95,
                low_signed_cents_bare=i["low"],
                high_signed_cents=i["high"],
                targets=r["targets"],
                holdouts=r["holdouts"],
            )
        ]
        why, why_json = reasons.english(parts), reasons.to_json(parts)  # pages show it translated (reasons.shown)
        with joined_or_own_transaction(conn):
            conn.execute(
                "UPDATE nbo_offer_types SET stopped_at = ?, stopped_why = ?, stopped_json = ? WHERE id = ?",
                (now, why, why_json, r["id"]),
            )
        for (campaign_id,) in conn.execute(
            "SELECT DISTINCT n.campaign_id FROM nbo_choices n JOIN campaigns c ON c.id = n.campaign_id "
            "WHERE n.offer_type_id = ? AND c.ends >= ? AND c.stopped_at IS NULL",
            (r["id"], today.isoformat()),
        ).fetchall():
            campaigns.stop(conn, campaign_id, today, now)
        log_event(log, "offer_type_stopped", offer_type=r["id"], why=why)
        stopped.append({**r, "stopped_at": now, "stopped_why": why, "stopped_json": why_json})
    return stopped
