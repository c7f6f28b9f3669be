"""Next best offer: each active customer gets, among the offer types head office defines, the one with the best
expected uplift in net margin (margin the offer brings minus what it costs), with the reason stored beside it.

The model is a few lines a person can check (docs/headoffice.md, "Next best offer"):
- the chance the customer comes in the offer's days anyway, from their own rhythm: 1 - exp(-days / rhythm);
- the extra visits the offer causes: RESPONSE times an index from the profile (server/analytics/profile.py):
  the customer's share of the offer's category against their store's (bonus points on a category), their share
  of promoted items against the store's (a cheque), how late they are against their own rhythm (win-back);
- expected uplift = extra visits x the margin of one of their baskets - the offer's cost x the chance it is
  used (points at the cash value of a point, a cheque at its value);
- and what similar customers did: every choice is filed in a cell (offer type and, e.g., "affinity high");
  the uplift measured in that cell against its holdout (server/analytics/offer_results.py) is blended in with
  the weight of the customers measured (n / (n + PRIOR_WEIGHT)).

Each offer type keeps a random holdout: a customer is held out of an offer type when a hash of the type and
the customer falls under its per mille, so the draw is the same every day and needs nothing stored. Chosen
offers become one campaign per offer type and day (targets and holdout as its control group): they reach the
tills, are applied there and checked at ingest exactly as hand-made campaigns (server/analytics/campaigns.py,
terminal/offers.py, server/ingest/offers_check.py).
"""
from __future__ import annotations

import hashlib
import math
import sqlite3
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

import msgspec

from server.storage.connection import POSTGRESQL, Connection, dialect, has_table, joined_or_own_transaction, postgres_schema
from ..errors import ServerError
from . import campaigns
from .aggregate import create_pg
from .margins import DEFAULT_PER_MILLE, MARGIN_PER_MILLE
from .profile import AFFINITY_SHOWN, Profile, profiles, profiles_and_mixes, save_snapshot
from .segments import SegmentSpec
from .value import point_value_cents

SCHEMA = """
CREATE TABLE IF NOT EXISTS nbo_offer_types (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL CHECK (kind IN ('category_points', 'basket_cheque', 'winback')),
    category TEXT NOT NULL DEFAULT '',
    points INTEGER NOT NULL DEFAULT 0,
    cheque_cents INTEGER NOT NULL DEFAULT 0,
    days INTEGER NOT NULL,
    holdout_per_mille INTEGER NOT NULL,
    min_run_days INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    stopped_at TEXT,
    stopped_why TEXT
);
CREATE TABLE IF NOT EXISTS nbo_choices (
    day TEXT NOT NULL,
    customer TEXT NOT NULL,
    offer_type_id INTEGER NOT NULL,
    policy TEXT NOT NULL,
    grp TEXT NOT NULL CHECK (grp IN ('target', 'holdout')),
    cell TEXT NOT NULL,
    expected_cents INTEGER NOT NULL,
    reason TEXT NOT NULL,
    campaign_id INTEGER NOT NULL,
    PRIMARY KEY (day, customer)
) WITHOUT ROWID;
"""
SCHEMA_PG = postgres_schema(SCHEMA)
KINDS = ("category_points", "basket_cheque", "winback")
POLICIES = ("model", "random", "segment")
RESPONSE = 0.08          # extra visits an offer causes for an average customer (index 1), before learning
MAX_INDEX = 4.0          # an index from the profile counts up to this
PRIOR_WEIGHT = 200       # customers measured before what they did weighs as much as the prior
DEFAULT_RHYTHM = 60.0    # days between visits assumed for a customer seen once
MAX_DAYS, MAX_RUN_DAYS, MAX_HOLDOUT = 60, 365, 500


class OfferType(msgspec.Struct, kw_only=True):
    name: str
    kind: str
    category: str = ""         # category_points: the category whose buyers it suits
    points: int = 0            # category_points, winback: bonus points on the next ticket
    cheque_cents: int = 0      # basket_cheque: the cheque's value
    days: int = 7              # how long a chosen offer stays open
    holdout_per_mille: int = 100
    min_run_days: int = 28     # run at least this long before it may be stopped for doing harm


@dataclass
class Choice:
    customer: str
    cards: list[str]
    offer_type: int
    grp: str
    cell: str
    expected_cents: int
    reason: str


def ensure_schema(conn: Connection) -> None:
    campaigns.ensure_schema(conn)
    if dialect(conn) == POSTGRESQL:
        create_pg(conn, "nbo_choices", SCHEMA_PG)
    else:
        conn.executescript(SCHEMA)


def _check(t: OfferType) -> None:
    if not t.name.strip():
        raise ServerError("an offer type needs a name: give it one")
    if t.kind not in KINDS:
        raise ServerError(f"offer type kind {t.kind!r} is not one of {', '.join(KINDS)}")
    if t.kind == "category_points" and not t.category.strip():
        raise ServerError("bonus points on a category need the category: give one")
    if t.kind in ("category_points", "winback") and not 0 < t.points <= campaigns.MAX_BONUS_POINTS:
        raise ServerError(f"give the bonus points, 1 to {campaigns.MAX_BONUS_POINTS}")
    if t.kind == "basket_cheque" and not 0 < t.cheque_cents <= campaigns.MAX_CHEQUE_CENTS:
        raise ServerError(f"give the cheque's value, 0.01 to {campaigns.MAX_CHEQUE_CENTS // 100}.00 EUR")
    if not 1 <= t.days <= MAX_DAYS:
        raise ServerError(f"an offer stays open 1 to {MAX_DAYS} days: give days in that range")
    if not 1 <= t.holdout_per_mille <= MAX_HOLDOUT:
        raise ServerError(f"the holdout is 0.1% to {MAX_HOLDOUT // 10}% of the customers (per mille 1-{MAX_HOLDOUT})")
    if not 1 <= t.min_run_days <= MAX_RUN_DAYS:
        raise ServerError(f"the minimum run is 1 to {MAX_RUN_DAYS} days: give one in that range")


def define(conn: Connection, offer_type: OfferType, now: str | None = None) -> int:
    """Record an offer type head office offers; returns its id."""
    _check(offer_type)
    ensure_schema(conn)
    now = now or datetime.now(timezone.utc).isoformat(timespec="seconds")
    with joined_or_own_transaction(conn):
        if conn.execute("SELECT 1 FROM nbo_offer_types WHERE name = ?", (offer_type.name.strip(),)).fetchone():
            raise ServerError(f"an offer type is already named {offer_type.name.strip()!r}: give another name")
        t = offer_type
        return conn.execute(
            "INSERT INTO nbo_offer_types (name, kind, category, points, cheque_cents, days, holdout_per_mille, "
            "min_run_days, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (t.name.strip(), t.kind, t.category.strip() if t.kind == "category_points" else "",
             t.points if t.kind != "basket_cheque" else 0, t.cheque_cents if t.kind == "basket_cheque" else 0,
             t.days, t.holdout_per_mille, t.min_run_days, now)).fetchall()[0][0]


def offer_types(conn: Connection, active_only: bool = False) -> list[dict]:
    ensure_schema(conn)
    cur = conn.execute("SELECT * FROM nbo_offer_types " + ("WHERE stopped_at IS NULL " if active_only else "")
                       + "ORDER BY id")
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row)) for row in cur]


def held_out(offer_type: int, customer: str, per_mille: int) -> bool:
    """The holdout draw: the same customer and offer type always fall on the same side."""
    digest = hashlib.sha256(f"nbo:{offer_type}:{customer}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % 1000 < per_mille


def _pick(key: str, n: int) -> int:
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") % n


def arm(customer: str, arms: int = 3) -> int:
    """The comparison's arm of a customer (0 model, 1 random, 2 segment-wide), by hash."""
    return _pick(f"arm:{customer}", arms)


def _margin_rate(p: Profile) -> float:
    total = sum(v for v in p.category_cents.values() if v > 0)
    if not total:
        return DEFAULT_PER_MILLE / 1000
    return sum(max(v, 0) * MARGIN_PER_MILLE.get(c, DEFAULT_PER_MILLE) for c, v in p.category_cents.items()) \
        / total / 1000


def _index(t: dict, p: Profile) -> tuple[float, str, str]:
    """(index of response, the cell of similar customers, why) for offer type `t` and profile `p`."""
    if t["kind"] == "category_points":
        affinity = p.affinity.get(t["category"], 0.0)
        cell = "affinity high" if affinity >= AFFINITY_SHOWN else "affinity low"
        return min(affinity, MAX_INDEX), cell, f"buys {affinity:.1f}x the store's share of {t['category']}"
    if t["kind"] == "basket_cheque":
        ratio = p.promoted_share / p.store_promoted_share if p.store_promoted_share else (
            MAX_INDEX if p.promoted_share else 0.0)
        cell = "price watcher" if ratio >= 1.5 else "not price-sensitive"
        why = f"{p.promoted_share:.0%} of items on promotion, store {p.store_promoted_share:.0%}"
        return min(ratio, MAX_INDEX), cell, why
    late = max((p.churn_ratio or 0.0) - 1.0, 0.0)
    return min(late, MAX_INDEX), f"churn {p.churn_risk}", (
        f"last visit {p.days_since_last} days ago, usually every {p.rhythm_days or DEFAULT_RHYTHM:.0f}")


def expected(t: dict, p: Profile, learnt: dict[tuple[int, str], tuple[int, float]]) -> tuple[int, str, str]:
    """(expected uplift in net margin, cents; cell; reason) of offer type `t` for the customer of `p`."""
    index, cell, why = _index(t, p)
    rhythm = p.rhythm_days or DEFAULT_RHYTHM
    anyway = 1 - math.exp(-t["days"] / max(rhythm, 1.0))
    extra = RESPONSE * index
    basket_margin = p.basket_cents * _margin_rate(p)
    value = t["points"] * point_value_cents() if t["kind"] != "basket_cheque" else t["cheque_cents"]
    cost = value * min(1.0, anyway + extra)
    prior = extra * basket_margin - cost
    n, measured = learnt.get((t["id"], cell), (0, 0.0))
    blended = (PRIOR_WEIGHT * prior + n * measured) / (PRIOR_WEIGHT + n)
    reason = (f"{t['name']}: {why}; +{extra:.2f} visits x {basket_margin / 100:.2f} EUR margin - "
              f"{cost / 100:.2f} EUR cost = {prior / 100:+.2f} EUR")
    if n:
        reason += f"; {n} similar customers ({cell}) measured {measured / 100:+.2f} EUR, blended {blended / 100:+.2f}"
    return round(blended), cell, reason


def _open_customers(conn, day: date) -> set[str]:
    """Customers with a chosen offer (or holdout) still open on `day`: not chosen again until it ends."""
    ensure_schema(conn)
    return {c for (c,) in conn.execute(
        "SELECT DISTINCT n.customer FROM nbo_choices n JOIN campaigns c ON c.id = n.campaign_id "
        "WHERE c.ends >= ? AND c.stopped_at IS NULL", (day.isoformat(),))}


def eligible(conn, day: date, archive=None, everyone: dict[str, Profile] | None = None) -> dict[str, Profile]:
    """The active customers who may get an offer on `day`: a desk customer who agreed to profiling, with an
    active card and a ticket in the last 12 months, and no offer open. Profiles as of the day before (from the
    Parquet `archive` when given; `everyone`: those profiles, already computed)."""
    if not has_table(conn, "customers"):
        return {}
    agreed = {f"customer:{cid}" for (cid,) in conn.execute(
        "SELECT id FROM customers WHERE consent_profiling = 1 AND erased_at IS NULL AND merged_into IS NULL")}
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


def choose(conn, day: date, policy: str = "model", customers: set[str] | None = None,
           learnt: dict | None = None, found: dict[str, Profile] | None = None) -> list[Choice]:
    """Each eligible customer's offer type under `policy` (model: the best expected uplift, none when all are
    below zero; random: one at random; segment: the one type best for the whole group), and their side of
    that type's holdout. Nothing is written."""
    if policy not in POLICIES:
        raise ServerError(f"policy {policy!r} is not one of {', '.join(POLICIES)}")
    types = offer_types(conn, active_only=True)
    if not types:
        raise ServerError("no offer type defined (or all stopped): define one on the campaigns page first")
    found = eligible(conn, day) if found is None else found
    if customers is not None:
        found = {k: p for k, p in found.items() if k in customers}
    if learnt is None:
        from .offer_results import learnt_cells

        learnt = learnt_cells(conn, day)
    scored = {k: [expected(t, p, learnt) for t in types] for k, p in sorted(found.items())}
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
    ensure_schema(conn)
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
                segment=SegmentSpec(start=day - timedelta(days=365), end=day - timedelta(days=1),
                                    name="next best offer"),
                kind=kind, starts=day, ends=day + timedelta(days=t["days"] - 1), points=t["points"],
                cheque_cents=t["cheque_cents"], control_per_mille=t["holdout_per_mille"], seed=0)
            campaign_id = campaigns.record(conn, campaign, [
                (c.customer, card, "control" if c.grp == "holdout" else "target") for c in group for card in c.cards],
                now)
            conn.executemany(
                "INSERT INTO nbo_choices (day, customer, offer_type_id, policy, grp, cell, expected_cents, reason, "
                "campaign_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(day.isoformat(), c.customer, type_id, policy, c.grp, c.cell, c.expected_cents, c.reason,
                  campaign_id) for c in group])
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
    return {"day": day.isoformat(), "customers": len(chosen), "targets": sum(c.grp == "target" for c in chosen),
            "holdouts": sum(c.grp == "holdout" for c in chosen), "campaigns": made}


def compare(conn, day: date, now: str | None = None) -> dict[str, list[int]]:
    """The three-way check: eligible customers split in three arms by hash; the model chooses for the first,
    chance for the second, one segment-wide offer for the third; each recorded as its own campaigns."""
    found = eligible(conn, day)
    from .offer_results import learnt_cells

    learnt = learnt_cells(conn, day)
    made = {}
    for n, policy in enumerate(POLICIES):
        arm_keys = {k for k in found if arm(k) == n}
        made[policy] = record(conn, day, choose(conn, day, policy, arm_keys, learnt, found), policy, now)
    return made


def choices_of(conn, customer: str) -> list[dict]:
    """A customer's chosen offers, latest first (with the reason)."""
    ensure_schema(conn)
    cur = conn.execute("SELECT n.*, t.name AS offer FROM nbo_choices n JOIN nbo_offer_types t "
                       "ON t.id = n.offer_type_id WHERE n.customer = ? ORDER BY n.day DESC", (customer,))
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row)) for row in cur]
