"""Customer value, deciles, value ranks and RFM computed by DuckDB straight from the archive's tickets.

One definition in SQL (`FIGURES`) of what server.analytics.value and rfm compute from the card_day
aggregate, giving the same structures and exactly the same numbers (tests/server/analytics/
test_archive_value.py holds them equal): per card the spend, margin (each line's per-mille rate of
server.analytics.margins, rounded down to the cent, summed from the lines, which carry their ticket's
card and day: no join), tickets, visits (distinct days) and points;
cards of one desk customer added up (visits too); then, over the customers of the period:
decile = i*10//n + 1 with i the 0-based place by spend (best first, ties by key); an RFM score =
(customers strictly worse)*5//n + 1 on recency, visits and spend; the value rank from the decile
and net value (margin minus what the points earned cost). The card -> customer map and the point's
cash value come from the server database, as today.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from .archive_db import open_archive
from .margins import DEFAULT_PER_MILLE, MARGIN_PER_MILLE
from .rfm import Rfm
from .value import CustomerValue, point_value_cents, value_rank

# scaled // 1000 rounded toward minus infinity, as Python's // (DuckDB's // on integers truncates toward zero)
FLOOR_THOUSANDTHS = "(scaled - ((scaled % 1000) + 1000) % 1000) // 1000"

# A customer's figures over [$start, $end], their decile, value rank and RFM scores. Parameters:
# $start, $end (dates), $first_month, $last_month ("YYYY-MM", which month folders to read), $point_cents.
FIGURES = """
WITH per_card AS (
    SELECT card, sum(total_cents) AS spend_cents, count(*) AS tickets, count(DISTINCT day) AS visits,
           max(day) AS last_day, sum(points_earned) AS points_earned, sum(points_redeemed) AS points_redeemed
    FROM tickets
    WHERE card IS NOT NULL AND month BETWEEN $first_month AND $last_month AND day BETWEEN $start AND $end
    GROUP BY card
), card_margin AS (  -- each line's margin rounded down, as margins.margin_cents; lines carry their ticket's card
    SELECT card, sum({floor}) AS margin_cents
    FROM (SELECT l.card, l.total_cents * coalesce(r.per_mille, $default_per_mille) AS scaled
          FROM lines l LEFT JOIN margin_rates r ON r.category = l.category
          WHERE l.card IS NOT NULL AND l.month BETWEEN $first_month AND $last_month AND l.day BETWEEN $start AND $end)
    GROUP BY card
), per_customer AS (
    SELECT coalesce('customer:' || o.customer_id, c.card) AS key, any_value(o.customer_id) AS customer_id,
           list(c.card ORDER BY c.card) AS cards, sum(spend_cents)::BIGINT AS spend_cents,
           sum(coalesce(m.margin_cents, 0))::BIGINT AS margin_cents, sum(tickets)::BIGINT AS tickets,
           sum(visits)::BIGINT AS visits, max(last_day) AS last_day,
           sum(points_earned)::BIGINT AS points_earned, sum(points_redeemed)::BIGINT AS points_redeemed
    FROM per_card c LEFT JOIN card_margin m ON m.card = c.card LEFT JOIN owners o ON o.card = c.card
    GROUP BY 1
), valued AS (
    SELECT *, $end - last_day AS recency_days, points_earned * $point_cents AS points_cost_cents,
           margin_cents - points_earned * $point_cents AS net_cents, count(*) OVER () AS n
    FROM per_customer
)
SELECT key, customer_id, cards, spend_cents, margin_cents, tickets, visits, last_day, recency_days,
       points_earned, points_redeemed, points_cost_cents, net_cents,
       (row_number() OVER (ORDER BY spend_cents DESC, key) - 1) * 10 // n + 1 AS decile,
       (rank() OVER (ORDER BY -recency_days) - 1) * 5 // n + 1 AS r,
       (rank() OVER (ORDER BY visits) - 1) * 5 // n + 1 AS f,
       (rank() OVER (ORDER BY spend_cents) - 1) * 5 // n + 1 AS m
FROM valued
ORDER BY spend_cents DESC, key
""".format(floor=FLOOR_THOUSANDTHS)

STORES = """
SELECT coalesce('customer:' || o.customer_id, t.card) AS key, t.store, sum(t.total_cents)::BIGINT AS spend_cents
FROM tickets t LEFT JOIN owners o ON o.card = t.card
WHERE t.card IS NOT NULL AND t.month BETWEEN $first_month AND $last_month AND t.day BETWEEN $start AND $end
GROUP BY ALL
"""


@dataclass
class Figures:
    """What the value page and the segments build from customer values, in the shapes they use today."""

    values: list[CustomerValue]
    deciles: list[dict]
    ranks: dict[str, str]
    rfm: dict[str, Rfm]


def figures(archive: str | Path, start: date, end: date, owners: dict[str, int] | None = None,
            point_cents: int | None = None, with_stores: bool = False) -> Figures:
    """Customer values (as value.customer_values), deciles (as value.deciles), value ranks (as value.value_ranks)
    and RFM scores (as rfm.rfm_scores) over [start, end] from the archive. `owners`: card -> desk customer id
    (value.card_owners(conn) of the server database)."""
    import pyarrow as pa

    point_cents = point_value_cents() if point_cents is None else point_cents
    owners = owners or {}
    db = open_archive(archive)
    try:
        db.register("owners", pa.table({"card": pa.array(list(owners), pa.string()),
                                        "customer_id": pa.array(list(owners.values()), pa.int64())}))
        db.register("margin_rates", pa.table({"category": list(MARGIN_PER_MILLE),
                                              "per_mille": pa.array(list(MARGIN_PER_MILLE.values()), pa.int64())}))
        params = {"start": start, "end": end, "first_month": start.strftime("%Y-%m"),
                  "last_month": end.strftime("%Y-%m")}
        rows = db.execute(FIGURES, {**params, "point_cents": point_cents,
                                    "default_per_mille": DEFAULT_PER_MILLE}).fetchall()
        stores = db.execute(STORES, params).fetchall() if with_stores else []
    finally:
        db.close()
    values, ranks, scores = [], {}, {}
    groups = [{"decile": d, "customers": 0, "spend_cents": 0, "margin_cents": 0, "net_cents": 0}
              for d in range(1, 11)]
    for (key, customer_id, cards, spend, margin, tickets, visits, last_day, recency, earned, redeemed, cost, net,
         decile, r, f, m) in rows:
        values.append(CustomerValue(key, customer_id, list(cards), spend, margin, tickets, visits,
                                    last_day.isoformat(), recency, earned, redeemed, cost))
        ranks[key] = value_rank(decile, net)
        scores[key] = Rfm(r, f, m)
        g = groups[decile - 1]
        g["customers"] += 1
        g["spend_cents"] += spend
        g["margin_cents"] += margin
        g["net_cents"] += net
    total = sum(v.spend_cents for v in values) or 1
    for g in groups:
        g["share"] = g["spend_cents"] / total
    if with_stores:
        by_key = {v.key: v for v in values}
        for key, store, spend in stores:
            by_key[key].stores[store] = spend
    return Figures(values, groups, ranks, scores)
