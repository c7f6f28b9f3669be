"""Next best offer: each active customer gets, among the offer types head office defines, the one with the best
expected uplift in net margin (margin the offer brings minus what it costs), with the reason stored beside it.

The model is a few lines a person can check (docs/headoffice.md, "Next best offer"):
- the chance the customer comes in the offer's days anyway, from their own rhythm: 1 - exp(-days / rhythm);
- the extra visits the offer causes: RESPONSE times an index from the profile (server/analytics/profile.py):
  the customer's share of the offer's category against their store's (bonus points on a category), their share
  of promoted items against the store's (a cheque), how late they are against their own rhythm (win-back);
- expected uplift = extra visits x the margin of one of their baskets - the offer's cost x the chance it is
  used (points at the cash value of a point, a cheque at its value);
- an offer with a condition (a cheque's basket threshold, a bonus's category) pays only on a basket that meets
  it: the uplift above is multiplied by the chance their basket does, the share of their recent tickets that met
  it smoothed toward everyone's (next_offer_baskets.py), so it weighs both the cost and the response;
- and what similar customers did: every choice is filed in a cell (offer type and, e.g., "affinity high"; for
  a condition, whether they meet it often or rarely); the uplift measured in that cell against its holdout
  (server/analytics/offer_results.py) is blended in with the weight of the customers measured
  (n / (n + PRIOR_WEIGHT)).

Each offer type keeps a random holdout: a customer is held out of an offer type when a hash of the type and
the customer falls under its per mille, so the draw is the same every day and needs nothing stored. Chosen
offers become one campaign per offer type and day (targets and holdout as its control group): they reach the
tills with the type's condition (its category, its basket threshold), are applied there only to a ticket that
meets it and checked at ingest exactly as hand-made campaigns (server/analytics/campaigns.py,
terminal/offers.py, server/ingest/offers_check.py).
"""

from __future__ import annotations

import hashlib
import math
from datetime import date, timedelta


from server.storage.connection import joined_or_own_transaction
from ..errors import ServerError
from . import campaigns
from .offer_definitions import (
    DEFAULT_RHYTHM,
    MAX_INDEX,
    POLICIES,
    PRIOR_WEIGHT,
    RESPONSE,
    Choice,
    held_out,
    offer_types,
)
from .offer_results import learnt_cells
from .margins import DEFAULT_PER_MILLE, MARGIN_PER_MILLE
from .next_offer_baskets import Baskets, recent_baskets
from .profile import AFFINITY_SHOWN, Profile, profiles, profiles_and_mixes, save_snapshot
from .segments import SegmentSpec
from .value import point_value_cents


def _pick(key: str, n: int) -> int:
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") % n


def arm(customer: str, arms: int = 3) -> int:
    """The comparison's arm of a customer (0 model, 1 random, 2 segment-wide), by hash."""
    return _pick(f"arm:{customer}", arms)


def _margin_rate(p: Profile) -> float:
    total = sum(v for v in p.category_cents.values() if v > 0)
    if not total:
        return DEFAULT_PER_MILLE / 1000
    return (
        sum(max(v, 0) * MARGIN_PER_MILLE.get(c, DEFAULT_PER_MILLE) for c, v in p.category_cents.items()) / total / 1000
    )


def _index(t: dict, p: Profile) -> tuple[float, str, str]:
    """(index of response, the cell of similar customers, why) for offer type `t` and profile `p`."""
    if t["kind"] == "category_points":
        affinity = p.affinity.get(t["category"], 0.0)
        cell = "affinity high" if affinity >= AFFINITY_SHOWN else "affinity low"
        return min(affinity, MAX_INDEX), cell, f"buys {affinity:.1f}x the store's share of {t['category']}"
    if t["kind"] == "basket_cheque":
        ratio = (
            p.promoted_share / p.store_promoted_share
            if p.store_promoted_share
            else (MAX_INDEX if p.promoted_share else 0.0)
        )
        cell = "price watcher" if ratio >= 1.5 else "not price-sensitive"
        why = f"{p.promoted_share:.0%} of items on promotion, store {p.store_promoted_share:.0%}"
        return min(ratio, MAX_INDEX), cell, why
    late = max((p.churn_ratio or 0.0) - 1.0, 0.0)
    return (
        min(late, MAX_INDEX),
        f"churn {p.churn_risk}",
        (f"last visit {p.days_since_last} days ago, usually every {p.rhythm_days or DEFAULT_RHYTHM:.0f}"),
    )


OFTEN = 0.5  # a customer whose chance to meet a condition is this or more meets it "often" (their cell)


def condition(t: dict) -> tuple[str | None, int] | None:
    """The offer type's condition as the till reads it (category or None, least qualifying cents), or None for a
    type without one (any ticket with spend that earns points, which nearly every ticket has)."""
    category = t["category"] if t["kind"] == "category_points" and t["category"] else None
    if category is None and not t["min_basket_cents"]:
        return None
    return category, max(1, t["min_basket_cents"])


def _condition_words(category: str | None, least: int) -> str:
    if category is None:
        return f"baskets of {least / 100:.2f} EUR or more that earn points"
    if least == 1:
        return f"tickets with a {category} line that earns points"
    return f"tickets with {least / 100:.2f} EUR of {category} that earns points"


def expected(
    t: dict, p: Profile, learnt: dict[tuple[int, str], tuple[int, float]], baskets: Baskets | None = None
) -> tuple[int, str, str]:
    """(expected uplift in net margin, cents; cell; reason) of offer type `t` for the customer of `p`; with
    `baskets`, an offer with a condition counts as much as the chance their basket meets it."""
    index, cell, why = _index(t, p)
    rhythm = p.rhythm_days or DEFAULT_RHYTHM
    anyway = 1 - math.exp(-t["days"] / max(rhythm, 1.0))
    extra = RESPONSE * index
    basket_margin = p.basket_cents * _margin_rate(p)
    value = t["points"] * point_value_cents() if t["kind"] != "basket_cheque" else t["cheque_cents"]
    cost = value * min(1.0, anyway + extra)
    prior = extra * basket_margin - cost
    met = ""
    needs = condition(t)
    if baskets is not None and needs is not None:
        found = baskets.chance(p.key, *needs)
        prior *= found.chance
        cell += ", meets it often" if found.chance >= OFTEN else ", meets it rarely"
        met = (
            f"; {_condition_words(*needs)}: {found.met} of {found.tickets} recent tickets, chance "
            f"{found.chance:.2f} (everyone {found.share:.2f})"
        )
    n, measured = learnt.get((t["id"], cell), (0, 0.0))
    blended = (PRIOR_WEIGHT * prior + n * measured) / (PRIOR_WEIGHT + n)
    reason = (
        f"{t['name']}: {why}{met}; +{extra:.2f} visits x {basket_margin / 100:.2f} EUR margin - "
        f"{cost / 100:.2f} EUR cost" + (" x chance" if met else "") + f" = {prior / 100:+.2f} EUR"
    )
    if n:
        reason += f"; {n} similar customers ({cell}) measured {measured / 100:+.2f} EUR, blended {blended / 100:+.2f}"
    return round(blended), cell, reason


def _open_customers(conn, day: date) -> set[str]:
    """Customers with a chosen offer (or holdout) still open on `day`: not chosen again until it ends."""
    return {
        c
        for (c,) in conn.execute(
            "SELECT DISTINCT n.customer FROM nbo_choices n JOIN campaigns c ON c.id = n.campaign_id "
            "WHERE c.ends >= ? AND c.stopped_at IS NULL",
            (day.isoformat(),),
        )
    }


def eligible(conn, day: date, archive=None, everyone: dict[str, Profile] | None = None) -> dict[str, Profile]:
    """The active customers who may get an offer on `day`: a desk customer who agreed to profiling, with an
    active card and a ticket in the last 12 months, and no offer open. Profiles as of the day before (from the
    Parquet `archive` when given; `everyone`: those profiles, already computed)."""
    agreed = {
        f"customer:{cid}"
        for (cid,) in conn.execute(
            "SELECT id FROM customers WHERE consent_profiling = 1 AND erased_at IS NULL AND merged_into IS NULL"
        )
    }
    active = {}
    for number, cid in conn.execute("SELECT number, customer_id FROM cards WHERE status = 'active'"):
        active.setdefault(f"customer:{cid}", []).append(number)
    busy = _open_customers(conn, day)
    found = {}
    everyone = profiles(conn, day - timedelta(days=1), archive=archive) if everyone is None else everyone
    for key, p in everyone.items():
        if key in agreed and key in active and key not in busy and p.tickets:
            p.cards = sorted(active[key])  # the offer reaches every active card of theirs
            found[key] = p
    return found


def choose(
    conn,
    day: date,
    policy: str = "model",
    customers: set[str] | None = None,
    learnt: dict | None = None,
    found: dict[str, Profile] | None = None,
    baskets: Baskets | None = None,
) -> list[Choice]:
    """Each eligible customer's offer type under `policy` (model: the best expected uplift, none when all are
    below zero; random: one at random; segment: the one type best for the whole group), and their side of
    that type's holdout. `baskets`: everyone's recent tickets (read when not given). Nothing is written."""
    if policy not in POLICIES:
        raise ServerError(f"policy {policy!r} is not one of {', '.join(POLICIES)}")
    types = offer_types(conn, active_only=True)
    if not types:
        raise ServerError("no offer type defined (or all stopped): define one on the campaigns page first")
    found = eligible(conn, day) if found is None else found
    if customers is not None:
        found = {k: p for k, p in found.items() if k in customers}
    if learnt is None:
        learnt = learnt_cells(conn, day)
    if baskets is None:
        baskets = recent_baskets(conn, day - timedelta(days=1))
    scored = {k: [expected(t, p, learnt, baskets) for t in types] for k, p in sorted(found.items())}
    segment_pick = None
    if policy == "segment":
        totals = [sum(s[i][0] for s in scored.values()) for i in range(len(types))]
        segment_pick = max(range(len(types)), key=lambda i: (totals[i], -i))
    chosen = []
    for key, scores in scored.items():
        if policy == "model":
            i = max(range(len(types)), key=lambda j: (scores[j][0], -j))
            if scores[i][0] <= 0:
                continue
            reason = "best expected: " + scores[i][2]
        elif policy == "random":
            i = _pick(f"random:{day}:{key}", len(types))
            reason = "drawn at random: " + scores[i][2]
        else:
            i = segment_pick
            reason = "the one offer for the whole group: " + scores[i][2]
        t = types[i]
        grp = "holdout" if held_out(t["id"], key, t["holdout_per_mille"]) else "target"
        chosen.append(Choice(key, found[key].cards, t["id"], grp, scores[i][1], scores[i][0], reason))
    return chosen


def record(conn, day: date, choices: list[Choice], policy: str = "model", now: str | None = None) -> list[int]:
    """One campaign per offer type with its chosen customers (holdout as control), and the choices with their
    reasons, in one transaction; returns the campaign ids. Push them with campaigns.publish."""
    types = {t["id"]: t for t in offer_types(conn)}
    by_type: dict[int, list[Choice]] = {}
    for c in choices:
        by_type.setdefault(c.offer_type, []).append(c)
    made = []
    with joined_or_own_transaction(conn):
        for type_id, group in sorted(by_type.items()):
            t = types[type_id]
            kind = "cheque" if t["kind"] == "basket_cheque" else "bonus_points"
            label = "" if policy == "model" else f" ({policy})"
            campaign = campaigns.Campaign(
                name=f"next best offer {day}: {t['name']}{label}",
                segment=SegmentSpec(
                    start=day - timedelta(days=365), end=day - timedelta(days=1), name="next best offer"
                ),
                kind=kind,
                starts=day,
                ends=day + timedelta(days=t["days"] - 1),
                points=t["points"],
                cheque_cents=t["cheque_cents"],
                control_per_mille=t["holdout_per_mille"],
                seed=0,
                category=t["category"] if t["kind"] == "category_points" else "",
                min_basket_cents=t["min_basket_cents"],
            )
            campaign_id = campaigns.record(
                conn,
                campaign,
                [(c.customer, card, "control" if c.grp == "holdout" else "target") for c in group for card in c.cards],
                now,
            )
            conn.executemany(
                "INSERT INTO nbo_choices (day, customer, offer_type_id, policy, grp, cell, expected_cents, reason, "
                "campaign_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        day.isoformat(),
                        c.customer,
                        type_id,
                        policy,
                        c.grp,
                        c.cell,
                        c.expected_cents,
                        c.reason,
                        campaign_id,
                    )
                    for c in group
                ],
            )
            made.append(campaign_id)
    return made


def run(conn, day: date, now: str | None = None, archive=None) -> dict:
    """The daily job: choose (model) for every eligible customer and record the campaigns; JSON counts.
    `archive`: read the year of tickets from the Parquet archive (DuckDB) instead of the server's tables.
    Also keeps the store mixes and everyone's ranks for the customer page (profile.save_snapshot)."""
    everyone, mixes = profiles_and_mixes(conn, day - timedelta(days=1), archive=archive)
    save_snapshot(conn, day, everyone, mixes)
    chosen = choose(conn, day, found=eligible(conn, day, archive, everyone))
    made = record(conn, day, chosen, now=now)
    return {
        "day": day.isoformat(),
        "customers": len(chosen),
        "targets": sum(c.grp == "target" for c in chosen),
        "holdouts": sum(c.grp == "holdout" for c in chosen),
        "campaigns": made,
    }


def compare(conn, day: date, now: str | None = None) -> dict[str, list[int]]:
    """The three-way check: eligible customers split in three arms by hash; the model chooses for the first,
    chance for the second, one segment-wide offer for the third; each recorded as its own campaigns."""
    found = eligible(conn, day)
    learnt = learnt_cells(conn, day)
    baskets = recent_baskets(conn, day - timedelta(days=1))
    made = {}
    for n, policy in enumerate(POLICIES):
        arm_keys = {k for k in found if arm(k) == n}
        made[policy] = record(conn, day, choose(conn, day, policy, arm_keys, learnt, found, baskets), policy, now)
    return made


def choices_of(conn, customer: str) -> list[dict]:
    """A customer's chosen offers, latest first (with the reason)."""
    cur = conn.execute(
        "SELECT n.*, t.name AS offer FROM nbo_choices n JOIN nbo_offer_types t "
        "ON t.id = n.offer_type_id WHERE n.customer = ? ORDER BY n.day DESC",
        (customer,),
    )
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row)) for row in cur]
