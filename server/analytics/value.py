"""Customer value over a period: spend, estimated margin, visits, recency, points cost; deciles and Pareto.

Read from the card_day aggregate (run aggregate.refresh first). A registered customer's cards count
as one customer (the desk's cards table); a card nobody registered counts as its own customer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from programme.points import default_rules

from server.storage.connection import Connection
from server.storage.sql import by_bytes, unindexed


def point_value_cents() -> int:
    """What one point costs when redeemed: the shipped rules' [redemption] cents_per_point."""
    return default_rules().redemption.cents_per_point


@dataclass
class CustomerValue:
    key: str  # "customer:<id>" or the card number
    customer_id: int | None
    cards: list[str] = field(default_factory=list)
    spend_cents: int = 0
    margin_cents: int = 0
    tickets: int = 0
    visits: int = 0  # distinct days with at least one ticket
    last_day: str = ""
    recency_days: int = 0  # days from the last visit to the period's last day
    points_earned: int = 0
    points_redeemed: int = 0
    points_cost_cents: int = 0  # points earned times the cash value of a point
    stores: dict[str, int] = field(default_factory=dict)  # store -> spend

    @property
    def net_cents(self) -> int:
        """Estimated margin minus what the points earned will cost."""
        return self.margin_cents - self.points_cost_cents


def card_owners(conn: Connection) -> dict[str, int]:
    """card -> customer id, from the desk's cards table."""
    return {number: customer for number, customer in conn.execute("SELECT number, customer_id FROM cards")}


def customer_values(
    conn: Connection, start: date, end: date, point_cents: int | None = None, with_stores: bool = False
) -> list[CustomerValue]:
    """Every customer with at least one identified ticket from `start` to `end` (both included).

    SQLite sums per card (in C) scanning card_day in its key order (card, day, store): `+day` keeps it
    off the day index, which would cost a sort for the GROUP BY (2.7x slower on a year, measured).
    Cards of one customer are then added up here. A customer's visits
    are the sum over their cards (two cards used the same day count twice: rare, and documented).
    `with_stores` also fills `stores` (spend per store), which segments need and dashboards do not."""
    point_cents = point_value_cents() if point_cents is None else point_cents
    owners = card_owners(conn)
    period = (start.isoformat(), end.isoformat())
    day = unindexed(conn, "day")
    in_period = f"{day} >= ? AND {day} <= ?"
    values: dict[str, CustomerValue] = {}
    for card, spend, margin, tickets, visits, last_day, earned, redeemed in conn.execute(
        "SELECT card, sum(spend_cents), sum(margin_cents), sum(tickets), count(DISTINCT day), max(day), "
        f"sum(points), sum(points_redeemed) FROM card_day WHERE {in_period} GROUP BY card",
        period,
    ):
        owner = owners.get(card)
        key = f"customer:{owner}" if owner is not None else card
        v = values.get(key)
        if v is None:
            v = values[key] = CustomerValue(key, owner)
        v.cards.append(card)
        v.spend_cents += spend
        v.margin_cents += margin
        v.tickets += tickets
        v.visits += visits
        v.points_earned += earned
        v.points_redeemed += redeemed
        v.last_day = max(v.last_day, last_day)
    if with_stores:
        for card, store, spend in conn.execute(
            f"SELECT card, store, sum(spend_cents) FROM card_day WHERE {in_period} GROUP BY card, store", period
        ):
            owner = owners.get(card)
            v = values[f"customer:{owner}" if owner is not None else card]
            v.stores[store] = v.stores.get(store, 0) + spend
    end_ordinal = end.toordinal()
    for v in values.values():
        v.recency_days = end_ordinal - date.fromisoformat(v.last_day).toordinal()
        v.points_cost_cents = v.points_earned * point_cents
        if len(v.cards) > 1:
            v.cards.sort()
    return sorted(values.values(), key=lambda v: (-v.spend_cents, v.key))


def deciles(values: list[CustomerValue]) -> list[dict]:
    """Ten groups by spend, best first: customer i (0-based, best first) of n is in decile i*10//n + 1."""
    n = len(values)
    ranked = sorted(values, key=lambda v: (-v.spend_cents, v.key))
    total = sum(v.spend_cents for v in ranked) or 1
    groups = [{"decile": d, "customers": 0, "spend_cents": 0, "margin_cents": 0, "net_cents": 0} for d in range(1, 11)]
    for i, v in enumerate(ranked):
        g = groups[i * 10 // n]
        g["customers"] += 1
        g["spend_cents"] += v.spend_cents
        g["margin_cents"] += v.margin_cents
        g["net_cents"] += v.net_cents
    for g in groups:
        g["share"] = g["spend_cents"] / total
    return groups


def pareto(values: list[CustomerValue], points: int = 20) -> list[tuple[float, float]]:
    """The Pareto curve: (share of customers, share of sales) for the best k customers, k = n*j/points."""
    ranked = sorted((v.spend_cents for v in values), reverse=True)
    n, total = len(ranked), sum(ranked)
    if not n or total <= 0:
        return [(0.0, 0.0)]
    cumulative = [0]
    for spend in ranked:
        cumulative.append(cumulative[-1] + spend)
    return [(j / points, cumulative[n * j // points] / total) for j in range(points + 1)]


def top_share(values: list[CustomerValue], customers_share: float = 0.2) -> float:
    """Share of sales made by the best `customers_share` of customers (the best floor(n*share))."""
    ranked = sorted((v.spend_cents for v in values), reverse=True)
    total = sum(ranked)
    if not ranked or total <= 0:
        return 0.0
    return sum(ranked[: int(len(ranked) * customers_share)]) / total


def value_rank(decile: int, net_cents: int) -> str:
    if net_cents < 0:
        return "below zero"
    return "top decile" if decile == 1 else f"decile {decile}"


def value_ranks(values: list[CustomerValue]) -> dict[str, str]:
    """key -> rank: "top decile", "decile 2".."decile 10", or "below zero" when points cost more than margin."""
    n = len(values)
    ranked = sorted(values, key=lambda v: (-v.spend_cents, v.key))
    return {v.key: value_rank(i * 10 // n + 1, v.net_cents) for i, v in enumerate(ranked)}


def identification_by_store(conn: Connection, start: date, end: date) -> list[dict]:
    """Per store: sales, sales on identified cards, and their share (the identification rate)."""
    rows = conn.execute(
        "SELECT store, sum(spend_cents), sum(tickets), sum(identified_cents), sum(identified_tickets) FROM store_day "
        f"WHERE day >= ? AND day <= ? GROUP BY store ORDER BY {by_bytes(conn, 'store')}",
        (start.isoformat(), end.isoformat()),
    )
    return [
        {
            "store": s,
            "spend_cents": spend,
            "tickets": n,
            "identified_cents": ident,
            "identified_tickets": ni,
            "rate": ident / spend if spend else 0.0,
        }
        for s, spend, n, ident, ni in rows
    ]
