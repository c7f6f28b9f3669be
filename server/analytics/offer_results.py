"""What the next best offers did: per offer type (and per policy of the three-way check), the net margin per
customer of the targets against the holdout over each offer's days, with Welch's 95% interval; offer types
whose interval stays below zero after their minimum run are stopped, with the reason head office reads.

A customer's net margin over an offer's days is the estimated margin of their tickets (card_day, so run the
aggregates first) minus what the offer cost: its points at the cash value of a point, or the cheque's value
for each cheque the tills issued (the `offer:<campaign id>` entries of the ledger). Holdout customers were
chosen the same way and got nothing, so the difference of the means is what the offer caused.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timezone

from sync.events import log_event

from ..dbconn import joined_or_own_transaction
from . import campaigns
from .aggregate import ensure_schema as ensure_aggregates
from .next_offer import ensure_schema, offer_types
from .stats import welch_interval
from .value import point_value_cents

log = logging.getLogger("loyalty.next_offer")
CONFIDENCE = 0.95


@dataclass(frozen=True)
class Outcome:
    offer_type: int
    policy: str
    cell: str
    grp: str
    day: str
    net_cents: int


def outcomes(conn, until: date) -> list[Outcome]:
    """Every choice whose offer started by `until`, with the customer's net margin over its days (to `until`)."""
    ensure_schema(conn)
    ensure_aggregates(conn)
    last = until.isoformat()
    margin: dict[tuple[int, str], int] = {}
    for campaign_id, customer, cents in conn.execute(
            "SELECT m.campaign_id, m.customer, sum(d.margin_cents) FROM nbo_choices n "
            "JOIN campaigns c ON c.id = n.campaign_id "
            "JOIN campaign_members m ON m.campaign_id = n.campaign_id AND m.customer = n.customer "
            "JOIN card_day d ON d.card = m.card AND d.day >= c.starts AND d.day <= c.ends AND d.day <= ? "
            "GROUP BY m.campaign_id, m.customer", (last,)):
        margin[(campaign_id, customer)] = cents
    cost: dict[tuple[int, str], int] = {}
    point = point_value_cents()
    for campaign_id, customer, kind, cheque, points, uses in conn.execute(
            "SELECT m.campaign_id, m.customer, c.kind, c.cheque_cents, sum(l.points), count(*) FROM nbo_choices n "
            "JOIN campaigns c ON c.id = n.campaign_id "
            "JOIN campaign_members m ON m.campaign_id = n.campaign_id AND m.customer = n.customer "
            "JOIN ledger l ON l.card = m.card AND l.rule = 'offer:' || CAST(m.campaign_id AS TEXT) "
            "WHERE substr(l.at, 1, 10) <= ? GROUP BY m.campaign_id, m.customer, c.kind, c.cheque_cents", (last,)):
        cost[(campaign_id, customer)] = uses * cheque if kind == "cheque" else points * point
    found = []
    for type_id, policy, cell, grp, day, customer, campaign_id in conn.execute(
            "SELECT n.offer_type_id, n.policy, n.cell, n.grp, n.day, n.customer, n.campaign_id FROM nbo_choices n "
            "WHERE n.day <= ? ORDER BY n.day, n.customer", (last,)):
        key = (campaign_id, customer)
        found.append(Outcome(type_id, policy, cell, grp, day, margin.get(key, 0) - cost.get(key, 0)))
    return found


def _compare(rows: list[Outcome]) -> dict:
    target = [o.net_cents for o in rows if o.grp == "target"]
    holdout = [o.net_cents for o in rows if o.grp == "holdout"]
    mean_t = sum(target) / len(target) if target else 0.0
    mean_h = sum(holdout) / len(holdout) if holdout else 0.0
    interval = welch_interval(target, holdout, CONFIDENCE)
    return {"targets": len(target), "holdouts": len(holdout), "mean_target_cents": mean_t,
            "mean_holdout_cents": mean_h, "uplift_cents": mean_t - mean_h,
            "interval": None if interval is None else {"low": interval.low, "high": interval.high, "df": interval.df,
                                                       "confidence": CONFIDENCE}}


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
    return {policy: _compare([o for o in rows if o.policy == policy])
            for policy in sorted({o.policy for o in rows})}


def stop_harmful(conn, today: date, now: str | None = None) -> list[dict]:
    """Stop every offer type that has run its minimum days and whose whole interval is below zero: it is no
    longer chosen, its open campaigns stop (the tills drop them at the next push), and the reason is kept."""
    now = now or datetime.now(timezone.utc).isoformat(timespec="seconds")
    stopped = []
    for r in results(conn, today):
        i = r["interval"]
        if r["stopped_at"] or i is None or r["days_run"] < r["min_run_days"] or i["high"] >= 0:
            continue
        why = (f"stopped on {today}: after {r['days_run']} days its customers brought "
               f"{r['uplift_cents'] / 100:+.2f} EUR net margin each against the holdout, 95% interval "
               f"{i['low'] / 100:+.2f} to {i['high'] / 100:+.2f} EUR ({r['targets']} targets, {r['holdouts']} "
               "held out): the offer costs more than it brings")
        with joined_or_own_transaction(conn):
            conn.execute("UPDATE nbo_offer_types SET stopped_at = ?, stopped_why = ? WHERE id = ?",
                         (now, why, r["id"]))
        for (campaign_id,) in conn.execute(
                "SELECT DISTINCT n.campaign_id FROM nbo_choices n JOIN campaigns c ON c.id = n.campaign_id "
                "WHERE n.offer_type_id = ? AND c.ends >= ? AND c.stopped_at IS NULL",
                (r["id"], today.isoformat())).fetchall():
            campaigns.stop(conn, campaign_id, today, now)
        log_event(log, "offer_type_stopped", offer_type=r["id"], why=why)
        stopped.append({**r, "stopped_at": now, "stopped_why": why})
    return stopped
