"""Segments: customers picked by RFM scores, value rank, tier, category affinity, main store and consent.

A segment is a definition (SegmentSpec), evaluated on demand over its period, so counts are
always current. The CSV export honours consent: a row only for a desk customer who agreed to be
contacted on that channel, and only that channel's address in it.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import date, timedelta

import msgspec

from programme.points import default_rules

from server.desk import csv_cells
from server.storage.connection import Connection
from ..errors import ServerError
from .aggregate import snapshot
from .rfm import rfm_scores
from .value import customer_values, value_ranks

CHANNELS = {"email": "email", "sms": "phone"}  # channel -> the customer column it contacts


class SegmentSpec(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    start: date
    end: date
    name: str = ""
    min_r: int = 1  # RFM minimum scores (1 = any)
    min_f: int = 1
    min_m: int = 1
    ranks: list[str] = []  # value ranks to keep ("top decile", "decile 2", ..., "below zero"); empty = any
    category: str = ""  # keep customers whose top category (by spend, all time) is this one
    store: str = ""  # keep customers whose main store in the period is this one
    consent: str = ""  # "email", "sms" or "profiling": keep desk customers who gave it
    tier: str = ""  # a tier name of the rules, or "none"; empty = any (see spend_tier)


@dataclass
class Member:
    key: str
    customer_id: int | None
    cards: list[str]
    spend_cents: int
    rfm: str
    rank: str
    top_category: str
    main_store: str
    tier: str = ""
    consents: set[str] = field(default_factory=set)


def _top_categories(conn: Connection) -> dict[str, tuple[int, str]]:
    best: dict[str, tuple[int, str]] = {}
    for card, category, spend in conn.execute("SELECT card, category, spend_cents FROM card_category"):
        if card not in best or (spend, category) > best[card]:
            best[card] = (spend, category)
    return best


def _consents(conn: Connection) -> dict[int, set[str]]:
    found = {}
    for cid, email, sms, profiling in conn.execute(
        "SELECT id, consent_email, consent_sms, consent_profiling FROM customers "
        "WHERE erased_at IS NULL AND merged_into IS NULL"
    ):
        found[cid] = {name for name, flag in (("email", email), ("sms", sms), ("profiling", profiling)) if flag}
    return found


def spend_tiers(conn: Connection, end: date) -> dict[str, str]:
    """key -> tier name ("none" below the first) from the spend of the 365 days up to `end` and the
    shipped rules' tier thresholds: an estimate of the status the desk shows, which also follows the
    yearly review date (a customer keeps a tier until the review) and counts eligible spend only."""
    tiers = sorted(default_rules().tiers, key=lambda t: t.min_spend_cents)
    found = {}
    for v in customer_values(conn, end - timedelta(days=364), end):
        found[v.key] = "none"
        for tier in tiers:
            if v.spend_cents >= tier.min_spend_cents:
                found[v.key] = tier.name
    return found


def tier_names() -> list[str]:
    return ["none", *(t.name for t in sorted(default_rules().tiers, key=lambda t: t.min_spend_cents))]


def members(conn: Connection, spec: SegmentSpec) -> list[Member]:
    """The customers of the segment, best spender first."""
    with snapshot(conn):  # the aggregates may be folded meanwhile by another connection
        values = customer_values(conn, spec.start, spec.end, with_stores=True)
        tiers = spend_tiers(conn, spec.end) if spec.tier else {}
        tops = _top_categories(conn) if spec.category else {}
        consents = _consents(conn)
    scores, ranks = rfm_scores(values), value_ranks(values)
    kept = []
    for v in values:
        s = scores[v.key]
        if s.r < spec.min_r or s.f < spec.min_f or s.m < spec.min_m:
            continue
        if spec.ranks and ranks[v.key] not in spec.ranks:
            continue
        if spec.tier and tiers.get(v.key, "none") != spec.tier:
            continue
        given = consents.get(v.customer_id, set()) if v.customer_id is not None else set()
        if spec.consent and spec.consent not in given:
            continue
        main_store = max(v.stores.items(), key=lambda kv: (kv[1], kv[0]))[0]
        if spec.store and main_store != spec.store:
            continue
        top = ""
        if spec.category:
            per_category: dict[str, int] = {}
            for card in v.cards:
                if card in tops:
                    spend, category = tops[card]
                    per_category[category] = per_category.get(category, 0) + spend
            top = max(per_category.items(), key=lambda kv: (kv[1], kv[0]))[0] if per_category else ""
            if top != spec.category:
                continue
        kept.append(
            Member(
                v.key,
                v.customer_id,
                v.cards,
                v.spend_cents,
                s.code,
                ranks[v.key],
                top,
                main_store,
                tiers.get(v.key, ""),
                given,
            )
        )
    return kept


def counts(conn: Connection, spec: SegmentSpec) -> dict:
    found = members(conn, spec)
    return {
        "customers": len(found),
        "cards": sum(len(m.cards) for m in found),
        "spend_cents": sum(m.spend_cents for m in found),
        "contactable": {channel: sum(1 for m in found if channel in m.consents) for channel in CHANNELS},
    }


def export_csv(conn: Connection, spec: SegmentSpec, channel: str) -> tuple[str, int, int]:
    """(CSV text, rows written, members left out for want of consent on `channel`)."""
    if channel not in CHANNELS:
        raise ServerError(f"no channel {channel!r}: export for one of {', '.join(CHANNELS)}")
    column = CHANNELS[channel]
    found = members(conn, spec)
    contactable = [m for m in found if channel in m.consents]
    addresses = {}
    ids = [m.customer_id for m in contactable]
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        for cid, name, address in conn.execute(
            f"SELECT id, name, {column} FROM customers WHERE id IN ({marks})", chunk
        ):
            addresses[cid] = (name, address)
    out = io.StringIO()
    writer = csv_cells.Writer(out)  # formulas in names are neutralised
    writer.writerow(["customer_id", "name", column, "cards", "spend_cents", "rfm", "value_rank"])
    for m in contactable:
        name, address = addresses[m.customer_id]
        writer.writerow([m.customer_id, name, address or "", " ".join(m.cards), m.spend_cents, m.rfm, m.rank])
    return out.getvalue(), len(contactable), len(found) - len(contactable)
