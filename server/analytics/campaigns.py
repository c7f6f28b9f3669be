"""Targeted offers for a segment over dates, with a random control group held out, and their analysis.

The control group is drawn per customer (all of a customer's cards fall in the same group) with
random.Random(seed) over the members sorted by key, so a campaign can be drawn again identically.
Tills learn the offers from one retained message on sync.topics.OFFERS holding every campaign not
yet over (target cards only); the tills apply them (terminal/offers.py) and name their entries
`offer:<campaign id>`: that is how redemptions and their cost are found in the ledger.
A campaign may have a condition (programme/campaign_offers.py): a category (bonus points on a category) and a
basket threshold (a cheque above a basket of N EUR); the tills apply the offer only when a ticket meets it and
ingest refuses a claim that does not (server/ingest/offers_check.py).
"""

from __future__ import annotations

import logging
import random
from datetime import date, datetime, timezone

import msgspec

from programme.campaign_offers import MAX_MIN_BASKET_CENTS
from sync import topics
from sync.broker_url import BrokerUrl
from sync.events import log_event
from sync.retained import publish_signed
from sync.signed import Signer

from server.storage.connection import Connection, joined_or_own_transaction, transaction
from server.storage.sql import by_bytes
from ..errors import ServerError
from .segments import SegmentSpec, members
from .stats import welch_interval

log = logging.getLogger("loyalty.campaigns")

KINDS = ("bonus_points", "cheque")
# The most one offer may give a customer (docs/desk.md, "Roles"): past it, a gift is a desk adjustment, reasoned
# and audited. 10,000 points are 100.00 EUR of cheques with the usual 500 points per 5.00 EUR cheque.
MAX_BONUS_POINTS = 10_000
MAX_CHEQUE_CENTS = 10_000
MAX_CATEGORY = 40  # characters of a category's name, as the offers message bounds it


class Campaign(msgspec.Struct, kw_only=True):
    name: str
    segment: SegmentSpec
    kind: str
    starts: date
    ends: date
    points: int = 0
    cheque_cents: int = 0
    stores: list[str] = []  # empty: every store
    control_per_mille: int = 100
    seed: int = 0
    category: str = ""  # only a ticket with spend that earns points on this category takes the offer
    min_basket_cents: int = 0  # the least spend that earns points (of the category, if any) a ticket needs


def _check(c: Campaign) -> None:
    if not c.name.strip():
        raise ServerError("a campaign needs a name: give it one")
    if c.kind not in KINDS:
        raise ServerError(f"offer kind {c.kind!r} is not one of {', '.join(KINDS)}")
    if c.kind == "bonus_points" and c.points <= 0:
        raise ServerError("a bonus points offer needs points above 0: give the points")
    if c.kind == "cheque" and c.cheque_cents <= 0:
        raise ServerError("a cheque offer needs an amount above 0: give the cheque's value")
    if c.kind == "bonus_points" and c.points > MAX_BONUS_POINTS:
        raise ServerError(
            f"a bonus points offer gives at most {MAX_BONUS_POINTS} points: give fewer "
            "(a bigger gift is a desk adjustment)"
        )
    if c.kind == "cheque" and c.cheque_cents > MAX_CHEQUE_CENTS:
        raise ServerError(
            f"a cheque offer is worth at most {MAX_CHEQUE_CENTS // 100}."
            f"{MAX_CHEQUE_CENTS % 100:02d} EUR: "
            "give a smaller value"
        )
    if c.category and not c.category.strip():
        raise ServerError("a category offer needs the category's name: give one, or none for any basket")
    if len(c.category.strip()) > MAX_CATEGORY:
        raise ServerError(f"a category's name is at most {MAX_CATEGORY} characters: give a shorter one")
    if not 0 <= c.min_basket_cents <= MAX_MIN_BASKET_CENTS:
        raise ServerError(f"a basket threshold is 0.00 to {MAX_MIN_BASKET_CENTS // 100}.00 EUR: give one in that range")
    if c.ends < c.starts:
        raise ServerError(f"the campaign ends ({c.ends}) before it starts ({c.starts}): swap the dates")
    if not 0 < c.control_per_mille < 1000:
        raise ServerError("the control group must be between 0.1% and 99.9% of the segment (per mille 1-999)")


def create(conn: Connection, campaign: Campaign, now: str | None = None) -> int:
    """Record the campaign and draw its groups; returns its id."""
    _check(campaign)
    found = members(conn, campaign.segment)
    if not found:
        raise ServerError("the segment has no customers: widen it before creating a campaign")
    keys = sorted(m.key for m in found)
    random.Random(campaign.seed).shuffle(keys)
    controls = set(keys[: round(len(keys) * campaign.control_per_mille / 1000)])
    with transaction(conn):
        campaign_id = record(
            conn,
            campaign,
            [(m.key, card, "control" if m.key in controls else "target") for m in found for card in m.cards],
            now,
        )
    return campaign_id


def record(conn: Connection, campaign: Campaign, cards: list[tuple[str, str, str]], now: str | None = None) -> int:
    """Write a checked campaign and its (customer, card, "target" or "control") rows, in the caller's
    transaction; returns its id. The next best offer (next_offer.py) draws its own groups and comes here."""
    _check(campaign)
    now = now or datetime.now(timezone.utc).isoformat(timespec="seconds")
    cur = conn.execute(
        "INSERT INTO campaigns (name, segment, kind, points, cheque_cents, starts, ends, stores, "
        "control_per_mille, seed, created_at, category, min_basket_cents) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        (
            campaign.name.strip(),
            msgspec.json.encode(campaign.segment).decode(),
            campaign.kind,
            campaign.points,
            campaign.cheque_cents,
            campaign.starts.isoformat(),
            campaign.ends.isoformat(),
            ",".join(campaign.stores),
            campaign.control_per_mille,
            campaign.seed,
            now,
            campaign.category.strip(),
            campaign.min_basket_cents,
        ),
    )
    campaign_id = cur.fetchall()[0][0]
    conn.executemany(
        "INSERT INTO campaign_members VALUES (?, ?, ?, ?)",
        [(campaign_id, customer, card, grp) for customer, card, grp in cards],
    )
    return campaign_id


def list_campaigns(conn: Connection) -> list[dict]:
    cur = conn.execute(
        "SELECT c.*, (SELECT count(DISTINCT customer) FROM campaign_members m WHERE m.campaign_id = c.id "
        "AND grp = 'target') AS targets, (SELECT count(DISTINCT customer) FROM campaign_members m "
        "WHERE m.campaign_id = c.id AND grp = 'control') AS controls FROM campaigns c ORDER BY c.id DESC"
    )
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row)) for row in cur]


def get(conn: Connection, campaign_id: int) -> dict:
    found = [c for c in list_campaigns(conn) if c["id"] == campaign_id]
    if not found:
        raise ServerError(f"no campaign {campaign_id}: pick one from the campaigns page")
    return found[0]


def stop(conn: Connection, campaign_id: int, today: date, now: str | None = None) -> dict:
    """Stop a campaign before its end: it leaves the offers at the next push (the tills drop it then), and
    its last day becomes `today` (or its first day, if it had not started): head office accepts the claims
    of tills that had not heard yet up to the end of that day, refuses later ones, and analyses the campaign
    over the days it ran. Returns the campaign as it is now."""
    found = get(conn, campaign_id)
    if found["stopped_at"]:
        raise ServerError(f"campaign {campaign_id} was already stopped at {found['stopped_at']}: nothing to do")
    if date.fromisoformat(found["ends"]) < today:
        raise ServerError(f"campaign {campaign_id} ended on {found['ends']}: there is nothing to stop")
    last = max(today, date.fromisoformat(found["starts"]))
    now = now or datetime.now(timezone.utc).isoformat(timespec="seconds")
    with joined_or_own_transaction(conn):
        conn.execute("UPDATE campaigns SET ends = ?, stopped_at = ? WHERE id = ?", (last.isoformat(), now, campaign_id))
    log_event(log, "campaign_stopped", campaign=campaign_id, last_day=last.isoformat())
    return get(conn, campaign_id)


def offers_payload(conn: Connection, today: date) -> bytes:
    """`{"schema": 1, "published_at", "offers": [{"campaign", "name", "kind", "points", "cheque_cents",
    "starts", "ends", "stores", "cards"}]}` for every campaign not over by `today` nor stopped (target cards only).
    When a campaign has a condition the message is schema 2 and every offer also has "category" (null: any)
    and "min_basket_cents" (docs/mqtt.md)."""
    offers = []
    for row in conn.execute(
        "SELECT id, name, kind, points, cheque_cents, starts, ends, stores, category, min_basket_cents FROM campaigns "
        "WHERE ends >= ? AND stopped_at IS NULL ORDER BY id",
        (today.isoformat(),),
    ).fetchall():
        cards = [
            r[0]
            for r in conn.execute(
                "SELECT card FROM campaign_members WHERE campaign_id = ? AND grp = 'target' "
                f"ORDER BY {by_bytes(conn, 'card')}",
                (row[0],),
            )
        ]
        offers.append(
            {
                "campaign": row[0],
                "name": row[1],
                "kind": row[2],
                "points": row[3],
                "cheque_cents": row[4],
                "starts": row[5],
                "ends": row[6],
                "stores": [s for s in row[7].split(",") if s],
                "cards": cards,
                "category": row[8] or None,
                "min_basket_cents": row[9],
            }
        )
    schema = 2 if any(o["category"] or o["min_basket_cents"] for o in offers) else 1  # as schema_of
    if schema == 1:  # the shape a till that knows only schema 1 reads
        for offer in offers:
            del offer["category"], offer["min_basket_cents"]
    return msgspec.json.encode(
        {
            "schema": schema,
            "published_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "offers": offers,
        }
    )


def publish(
    conn: Connection,
    broker: BrokerUrl,
    today: date,
    client_id: str = "loyalty-server-offers",
    signer: Signer | None = None,
) -> int:
    """Publish the current offers signed by head office (`signer`, else the configured key), retained (QoS 1),
    wait for the broker's ack; returns the offers sent."""
    payload = offers_payload(conn, today)
    publish_signed(broker, topics.OFFERS, "offers", payload, client_id, "offers", signer)
    offers = msgspec.json.decode(payload)["offers"]
    with conn:
        conn.executemany(
            "UPDATE campaigns SET pushed_at = ? WHERE id = ?",
            [(datetime.now(timezone.utc).isoformat(timespec="seconds"), o["campaign"]) for o in offers],
        )
    log_event(log, "offers_published", broker=str(broker), offers=len(offers))
    return len(offers)


def analyse(conn: Connection, campaign_id: int, inputs=None) -> dict:
    """Redemption rate, spend per customer target vs control over the campaign's dates with Welch's 95%
    interval for the uplift, and the cost: points of the entries named `offer:<id>` (or `offer:<id> ...`),
    and for a cheque offer the cheques issued (one 0-point entry each) times their value.

    The spend and the offer entries come from the aggregates and the ledger, or from the archive when
    `inputs` (figures.campaign_inputs, by either engine) gives them."""
    c = get(conn, campaign_id)
    groups: dict[str, dict[str, int]] = {"target": {}, "control": {}}
    card_group = {}
    for customer, card, grp in conn.execute(
        "SELECT customer, card, grp FROM campaign_members WHERE campaign_id = ?", (campaign_id,)
    ):
        groups[grp].setdefault(customer, 0)
        card_group[card] = (grp, customer)
    rule = f"offer:{campaign_id}"  # not offer:12 for campaign 1
    spends = (
        inputs.spend
        if inputs is not None
        else conn.execute(
            "SELECT m.card, sum(d.spend_cents) FROM campaign_members m JOIN card_day d ON d.card = m.card "
            "WHERE m.campaign_id = ? AND d.day >= ? AND d.day <= ? GROUP BY m.card",
            (campaign_id, c["starts"], c["ends"]),
        )
    )
    offers = (
        inputs.offers
        if inputs is not None
        else conn.execute(
            "SELECT l.card, sum(l.points), count(*) FROM ledger l JOIN campaign_members m ON m.card = l.card "
            "AND m.campaign_id = ? WHERE (l.rule = ? OR l.rule LIKE ?) AND substr(l.at, 1, 10) >= ? "
            "AND substr(l.at, 1, 10) <= ? GROUP BY l.card",
            (campaign_id, rule, f"{rule} %", c["starts"], c["ends"]),
        )
    )
    for card, spend in spends:
        grp, customer = card_group[card]
        groups[grp][customer] += spend
    redeemed: set[str] = set()
    cost = uses = 0
    for card, points, entries in offers:
        grp, customer = card_group[card]
        if grp == "target":
            redeemed.add(customer)
        cost += points
        uses += entries
    target, control = list(groups["target"].values()), list(groups["control"].values())
    interval = welch_interval(target, control)
    mean_t = sum(target) / len(target) if target else 0.0
    mean_c = sum(control) / len(control) if control else 0.0
    return {
        "campaign": campaign_id,
        "name": c["name"],
        "starts": c["starts"],
        "ends": c["ends"],
        "targets": len(target),
        "controls": len(control),
        "redeemed": len(redeemed),
        "redemption_rate": len(redeemed) / len(target) if target else 0.0,
        "mean_target_cents": mean_t,
        "mean_control_cents": mean_c,
        "uplift_cents": mean_t - mean_c,
        "uplift_share": (mean_t - mean_c) / mean_c if mean_c else None,
        "interval": None
        if interval is None
        else {"low": interval.low, "high": interval.high, "df": interval.df, "t": interval.t, "confidence": 0.95},
        "cost_points": cost,
        "cheques": uses if c["kind"] == "cheque" else 0,
        "cheques_cents": uses * c["cheque_cents"] if c["kind"] == "cheque" else 0,
    }
