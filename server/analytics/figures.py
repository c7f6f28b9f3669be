"""Head office's figures over the archive, each defined once in SQL that DuckDB and Spark both run.

Customer value (spend, margin, visits, recency, points and their cost), deciles, Pareto, value ranks,
RFM, retention and lifetime value, the value dashboard, segments' inputs (stores, top categories),
campaign analysis inputs, points issued, redeemed and expired, identification by store. The
definitions are those of value.py, rfm.py, points.py, segments.py and campaigns.py over the aggregates,
and give exactly their numbers (tests/server/analytics/test_figures.py runs the known figures on both
engines). An engine (server.analytics.engines) renders the few spellings that differ.

A customer's figures over [start, end], from the tickets (and their lines, which carry their
ticket's card and day): per card the spend, margin (each line's per-mille rate of margins.py,
rounded down to the cent), tickets, visits (distinct days), last day and points; cards of one desk
customer added up (visits too); decile = i*10//n + 1 with i the 0-based place by spend (best first,
ties by key); an RFM score = (customers strictly worse)*5//n + 1 on recency, visits and spend; the
value rank from the decile and net value (margin minus what the points earned cost).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from . import rollups
from .engines import Engine
from .margins import DEFAULT_PER_MILLE, MARGIN_PER_MILLE
from .rfm import DEFAULT_RETENTION, Rfm, lifetime_value_cents, previous_period
from .value import CustomerValue, value_rank

TOP_CUSTOMERS = 20
PARETO_POINTS = 20


def _period(e: Engine, start: date, end: date, day: str = "day", month: str = "month") -> str:
    """Rows of [start, end]: the month folders first (only those are read), then the days."""
    return f"{month} BETWEEN '{start:%Y-%m}' AND '{end:%Y-%m}' AND {day} BETWEEN {e.date(start)} AND {e.date(end)}"


def _floor_thousandths(e: Engine, scaled: str) -> str:
    """scaled // 1000 rounded toward minus infinity, as Python's // (both engines' own division truncates)."""
    return e.idiv(f"{scaled} - ((({scaled}) % 1000) + 1000) % 1000", "1000")


def per_mille(category: str) -> str:
    """A line's margin rate (margins.py) as an expression: a CASE, cheaper than joining a table of rates."""
    cases = " ".join(f"WHEN '{name}' THEN {rate}" for name, rate in MARGIN_PER_MILLE.items())
    return f"CASE {category} {cases} ELSE {DEFAULT_PER_MILLE} END"


def _key(card: str, customer_id: str) -> str:
    return f"CASE WHEN {customer_id} IS NULL THEN {card} ELSE concat('customer:', CAST({customer_id} AS STRING)) END"


def _month_after(first: date) -> date:
    return date(first.year + first.month // 12, first.month % 12 + 1, 1)


def _split(start: date | None, end: date) -> tuple[str, list[date]]:
    """[start, end] (start None: from the first month) as a condition on `month` keeping the whole months it
    covers, and the first days of the months it covers only in part (at most two)."""
    last_whole = (
        end if _month_after(end.replace(day=1)) - timedelta(days=1) == end else end.replace(day=1) - timedelta(1)
    )
    part = [] if last_whole == end else [end.replace(day=1)]
    if start is None:
        return f"month <= '{last_whole:%Y-%m}'", part
    first_whole = start if start.day == 1 else _month_after(start.replace(day=1))
    if start.day != 1 and start.replace(day=1) not in part:
        part.insert(0, start.replace(day=1))
    if first_whole > last_whole:
        return "false", part
    return f"month BETWEEN '{first_whole:%Y-%m}' AND '{last_whole:%Y-%m}'", part


def _rolled(e: Engine, name: str, start: date | None, end: date, day: str) -> str:
    """The roll-up `name`'s rows over [start, end] (start None: from the first month): the whole months from the
    roll-up, the days of a month covered in part from the same definition over the raw files (`day`: the raw
    rows' day)."""
    whole, part = _split(start, end)
    parts = [f"SELECT {rollups.COLUMNS[name]} FROM {name} WHERE {whole}"]
    for first in part:
        days = f"{day} <= {e.date(end)}" if start is None else f"{day} BETWEEN {e.date(start)} AND {e.date(end)}"
        where = f"month = '{first:%Y-%m}' AND {days}"
        parts.append(f"SELECT {rollups.COLUMNS[name]} FROM ({rollups.definition(name, where)}) r")
    return " UNION ALL ".join(parts)


def card_months_sql(e: Engine, start: date, end: date) -> str:
    """Each card's figures over [start, end] (spend, margin, tickets, visits, last day, points), summed from the
    card_month roll-up (rollups.py), the months covered in part from the raw tickets."""
    return f"""
SELECT card, sum(spend_cents) AS spend_cents, sum(margin_cents) AS margin_cents, sum(tickets) AS tickets,
       sum(visits) AS visits, max(last_day) AS last_day, sum(points_earned) AS points_earned,
       sum(points_redeemed) AS points_redeemed
FROM ({_rolled(e, "card_month", start, end, "day")}) cm
GROUP BY card"""


def _places(name: str, column: str, order: str = "") -> str:
    """A CTE `name`: per distinct value of `column` among the customers (`valued`), how many come before it in
    that order (`before`: rank() - 1, what an RFM score counts) and how many share it (`peers`)."""
    return f"""{name} AS (
    SELECT {column}, peers,
           sum(peers) OVER (ORDER BY {column} {order} ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) - peers
             AS before
    FROM (SELECT {column}, count(*) AS peers FROM valued GROUP BY {column}) distinct_values
)"""


def customers_sql(e: Engine, start: date, end: date, point_cents: int) -> str:
    """One row per customer of [start, end] with their figures, decile, RFM scores and value rank."""
    return f"""
WITH per_card AS ({card_months_sql(e, start, end)}
), per_customer AS (
    SELECT {_key("c.card", "o.customer_id")} AS key, max(o.customer_id) AS customer_id,
           {e.sorted_list("c.card")} AS cards, CAST(sum(c.spend_cents) AS BIGINT) AS spend_cents,
           CAST(sum(c.margin_cents) AS BIGINT) AS margin_cents,
           CAST(sum(c.tickets) AS BIGINT) AS tickets, CAST(sum(c.visits) AS BIGINT) AS visits,
           max(c.last_day) AS last_day, CAST(sum(c.points_earned) AS BIGINT) AS points_earned,
           CAST(sum(c.points_redeemed) AS BIGINT) AS points_redeemed
    FROM per_card c LEFT JOIN owners o ON o.card = c.card
    GROUP BY {_key("c.card", "o.customer_id")}
), valued AS (
    SELECT *, {e.days_between("last_day", e.date(end))} AS recency_days,
           points_earned * {point_cents} AS points_cost_cents,
           margin_cents - points_earned * {point_cents} AS net_cents
    FROM per_customer
), counted AS (
    SELECT count(*) AS n FROM valued
), {_places("by_recency", "recency_days", "DESC")},
{_places("by_visits", "visits")},
{_places("by_spend", "spend_cents")},
ranked AS (  -- a place is the customers before: sorting the few distinct values, not a million customers
    SELECT v.*, counted.n,  -- place: 0-based, by spend (best first) then key
           counted.n - bs.before - bs.peers + row_number() OVER (PARTITION BY v.spend_cents ORDER BY v.key) - 1
             AS place,
           {e.idiv("br.before * 5", "counted.n")} + 1 AS r,
           {e.idiv("bv.before * 5", "counted.n")} + 1 AS f,
           {e.idiv("bs.before * 5", "counted.n")} + 1 AS m
    FROM valued v CROSS JOIN counted
         JOIN by_recency br ON br.recency_days = v.recency_days
         JOIN by_visits bv ON bv.visits = v.visits
         JOIN by_spend bs ON bs.spend_cents = v.spend_cents
)
SELECT key, customer_id, cards, spend_cents, margin_cents, tickets, visits, last_day, recency_days,
       points_earned, points_redeemed, points_cost_cents, net_cents, decile, r, f, m,
       CASE WHEN net_cents < 0 THEN 'below zero' WHEN decile = 1 THEN 'top decile'
            ELSE concat('decile ', CAST(decile AS STRING)) END AS value_rank, place
FROM (SELECT *, {e.idiv("place * 10", "n")} + 1 AS decile FROM ranked) placed
"""


COLUMNS = (
    "key, customer_id, cards, spend_cents, margin_cents, tickets, visits, last_day, recency_days, "
    "points_earned, points_redeemed, points_cost_cents, net_cents, decile, r, f, m, value_rank"
)
BOARD_COLUMNS = COLUMNS.replace(" cards,", "") + ", place"


def stores_sql(e: Engine, start: date, end: date) -> str:
    """Each customer's spend per store over [start, end]."""
    return f"""
SELECT {_key("t.card", "o.customer_id")} AS key, t.store, CAST(sum(t.total_cents) AS BIGINT) AS spend_cents
FROM tickets t LEFT JOIN owners o ON o.card = t.card
WHERE t.card IS NOT NULL AND {_period(e, start, end, "t.day", "t.month")}
GROUP BY {_key("t.card", "o.customer_id")}, t.store
"""


def customer_keys_sql(e: Engine, start: date, end: date) -> str:
    """The customers of [start, end], keys only (for retention)."""
    return f"""
SELECT DISTINCT {_key("c.card", "o.customer_id")} AS key
FROM ({_rolled(e, "card_month", start, end, "day")}) c LEFT JOIN owners o ON o.card = c.card
"""


def identification_sql(e: Engine, start: date, end: date) -> str:
    """Per store: sales, tickets, sales and tickets on identified cards (value.identification_by_store), from the
    store_day roll-up."""
    return f"""
SELECT store, CAST(sum(spend_cents) AS BIGINT), CAST(sum(tickets) AS BIGINT), CAST(sum(identified_cents) AS BIGINT),
       CAST(sum(identified_tickets) AS BIGINT)
FROM store_day WHERE {_period(e, start, end)}
GROUP BY store ORDER BY store
"""


def points_by_kind_sql(e: Engine, start: date, end: date) -> str:
    """Points per ledger kind over [start, end], from the points_day roll-up."""
    return f"""
SELECT kind, CAST(sum(points) AS BIGINT) FROM points_day
WHERE {_period(e, start, end)}
GROUP BY kind
"""


def points_standing_sql(e: Engine, as_of: date, cutoff: date) -> str:
    """Outstanding points (each card's balance, at least 0) and those earned before `cutoff` (the first day of a
    month: the expiry's 1 January) still standing once debits took the oldest first (points.points_summary),
    from the card_points roll-up up to `as_of`."""
    if cutoff.day != 1:
        raise ValueError(f"the points' cutoff is the first day of a month, not {cutoff}")
    return f"""
SELECT CAST(coalesce(sum(greatest(balance, 0)), 0) AS BIGINT),
       CAST(coalesce(sum(greatest(least(old - debits, balance), 0)), 0) AS BIGINT)
FROM (
    SELECT card, sum(credits) - sum(debits) AS balance,
           sum(CASE WHEN lot_month < '{cutoff:%Y-%m}' THEN credits ELSE 0 END) AS old, sum(debits) AS debits
    FROM ({_rolled(e, "card_points", None, as_of, "CAST(ledger.at AS DATE)")}) p
    GROUP BY card
) per_card
"""


def top_categories_sql(e: Engine) -> str:
    """Each card's category with the most spend, all time (ties: the greater name, as segments.py)."""
    return """
SELECT card, category, spend_cents FROM (
    SELECT card, category, spend_cents,
           row_number() OVER (PARTITION BY card ORDER BY spend_cents DESC, category DESC) AS n
    FROM (SELECT card, category, CAST(sum(total_cents) AS BIGINT) AS spend_cents FROM lines
          WHERE card IS NOT NULL GROUP BY card, category) per_category
) ranked WHERE n = 1
"""


def campaign_spend_sql(e: Engine, starts: date, ends: date) -> str:
    """Spend per member card of a campaign (the registered `campaign_cards`) over its dates."""
    return f"""
SELECT m.card, CAST(sum(t.total_cents) AS BIGINT)
FROM campaign_cards m JOIN tickets t ON t.card = m.card
WHERE {_period(e, starts, ends, "t.day", "t.month")}
GROUP BY m.card
"""


def campaign_offers_sql(e: Engine, campaign_id: int, starts: date, ends: date) -> str:
    """The ledger entries named after the campaign (`offer:<id>` or `offer:<id> ...`) per member card."""
    rule = f"offer:{int(campaign_id)}"
    return f"""
SELECT l.card, CAST(sum(l.points) AS BIGINT), count(*)
FROM ledger l JOIN campaign_cards m ON m.card = l.card
WHERE (l.rule = '{rule}' OR l.rule LIKE '{rule} %') AND {_period(e, starts, ends, "CAST(l.at AS DATE)", "l.month")}
GROUP BY l.card
"""


@dataclass
class Figures:
    """What the value page and the segments build from customer values, in the shapes they use today."""

    values: list[CustomerValue]
    deciles: list[dict]
    ranks: dict[str, str]
    rfm: dict[str, Rfm]


def prepare(e: Engine, owners: dict[str, int]) -> None:
    """Give the engine the card -> customer map (server database) and the margin rates (margins.py)."""
    e.register("owners", [("card", "string"), ("customer_id", "bigint")], [list(owners), list(owners.values())], True)
    e.register(
        "margin_rates",
        [("category", "string"), ("per_mille", "bigint")],  # for analysts' queries
        list(MARGIN_PER_MILLE.items()),
    )


def _value(row) -> CustomerValue:
    (key, customer_id, cards, spend, margin, tickets, visits, last_day, recency, earned, redeemed, cost) = row[:12]
    return CustomerValue(
        key,
        customer_id,
        list(cards),
        spend,
        margin,
        tickets,
        visits,
        last_day.isoformat(),
        recency,
        earned,
        redeemed,
        cost,
    )


def _groups() -> list[dict]:
    return [{"decile": d, "customers": 0, "spend_cents": 0, "margin_cents": 0, "net_cents": 0} for d in range(1, 11)]


def customer_figures(e: Engine, start: date, end: date, point_cents: int, with_stores: bool = False) -> Figures:
    """Customer values (as value.customer_values), deciles (value.deciles), value ranks (value.value_ranks)
    and RFM scores (rfm.rfm_scores) over [start, end]; prepare() first."""
    rows = e.rows(
        f"SELECT {COLUMNS} FROM ({customers_sql(e, start, end, point_cents)}) c ORDER BY spend_cents DESC, key"
    )
    values, ranks, scores = [], {}, {}
    groups = _groups()
    for row in rows:
        v = _value(row)
        decile, r, f, m = row[13:17]
        values.append(v)
        ranks[v.key] = value_rank(decile, v.net_cents)
        scores[v.key] = Rfm(r, f, m)
        g = groups[decile - 1]
        g["customers"] += 1
        g["spend_cents"] += v.spend_cents
        g["margin_cents"] += v.margin_cents
        g["net_cents"] += v.net_cents
    total = sum(v.spend_cents for v in values) or 1
    for g in groups:
        g["share"] = g["spend_cents"] / total
    if with_stores:
        by_key = {v.key: v for v in values}
        for key, store, spend in e.rows(stores_sql(e, start, end)):
            by_key[key].stores[store] = spend
    return Figures(values, groups, ranks, scores)


def retention(e: Engine, start: date, end: date, customers: str | None = None) -> float:
    """Share of the previous period's customers who came back in [start, end] (rfm.retention); `customers`: a
    table of [start, end]'s customers (their `key`) the engine holds already."""
    before = previous_period(start, end)
    current = f"SELECT key FROM {customers}" if customers else customer_keys_sql(e, start, end)
    previous, back = e.rows(
        f"SELECT count(*), count(c.key) FROM ({customer_keys_sql(e, *before)}) p "
        f"LEFT JOIN ({current}) c ON c.key = p.key"
    )[0]
    return back / previous if previous else DEFAULT_RETENTION


def identification_by_store(e: Engine, start: date, end: date) -> list[dict]:
    """As value.identification_by_store."""
    return [
        {
            "store": s,
            "spend_cents": spend,
            "tickets": n,
            "identified_cents": ident,
            "identified_tickets": ni,
            "rate": ident / spend if spend else 0.0,
        }
        for s, spend, n, ident, ni in e.rows(identification_sql(e, start, end))
    ]


def points_summary(e: Engine, start: date, end: date, as_of: date, point_cents: int, cheques_cents: int = 0) -> dict:
    """As points.points_summary; `cheques_cents`: the loyalty cheques in circulation (the cheque book is in the
    transactional database, not the archive: the caller reads it, server.desk.cheque_book.outstanding_cents)."""
    from .points import next_expiry

    kinds = dict(e.rows(points_by_kind_sql(e, start, end)))
    when, year = next_expiry(as_of)
    outstanding, expiring = e.rows(points_standing_sql(e, as_of, date(year + 1, 1, 1)))[0]
    return {
        "issued": kinds.get("earn", 0),
        "redeemed": -kinds.get("redeem", 0),
        "expired": -kinds.get("expire", 0),
        "outstanding": outstanding,
        "point_cents": point_cents,
        "liability_cents": outstanding * point_cents + cheques_cents,
        "cheques_outstanding_cents": cheques_cents,
        "next_expiry": when.isoformat(),
        "expiring_points": expiring,
        "expiring_cents": expiring * point_cents,
    }


def top_categories(e: Engine) -> dict[str, tuple[int, str]]:
    """card -> (spend, category) of its best category, all time (segments' category filter)."""
    return {card: (spend, category) for card, category, spend in e.rows(top_categories_sql(e))}


def _rank_order(rank: str) -> int:
    return 1 if rank == "top decile" else 11 if rank == "below zero" else int(rank.split()[1])


def value_dashboard(e: Engine, start: date, end: date, point_cents: int, cheques_cents: int = 0) -> dict:
    """The value dashboard's figures (dashboard.compute but the enrolments, which are the desk's), computed by
    the engine: only the sums, the top customers and the curve's points leave it. prepare() first."""
    # every customer's figures but their cards (a list per customer, which only segments need), kept in the engine
    e.materialize("customer_figures", f"SELECT {BOARD_COLUMNS} FROM ({customers_sql(e, start, end, point_cents)}) c")
    customers = "customer_figures"
    by_decile = e.rows(
        f"SELECT decile, count(*), CAST(sum(spend_cents) AS BIGINT), CAST(sum(margin_cents) AS BIGINT), "
        f"CAST(sum(net_cents) AS BIGINT) FROM {customers} GROUP BY decile"
    )
    n, spend, margin = (sum(row[i] for row in by_decile) for i in (1, 2, 3))
    retained = retention(e, start, end, customers)
    top = []
    for row in e.rows(f"SELECT {BOARD_COLUMNS} FROM {customers} WHERE place < {TOP_CUSTOMERS} ORDER BY place"):
        row = (*row[:2], (), *row[2:])  # as COLUMNS, the cards left out
        v = _value(row)
        top.append(
            {
                "key": v.key,
                "customer_id": v.customer_id,
                "spend_cents": v.spend_cents,
                "visits": v.visits,
                "recency_days": v.recency_days,
                "rank": row[17],
                "rfm": Rfm(*row[14:17]).code,
                "ltv_cents": lifetime_value_cents(v, start, end, retained),
            }
        )
    deciles: list[dict] = []
    curve, top20 = [(0.0, 0.0)], 0.0
    if n:
        deciles = _groups()
        for decile, count, d_spend, d_margin, d_net in by_decile:
            deciles[decile - 1].update(customers=count, spend_cents=d_spend, margin_cents=d_margin, net_cents=d_net)
        for g in deciles:
            g["share"] = g["spend_cents"] / (spend or 1)
        if spend > 0:  # the cumulative spend of the best k customers at the curve's points and at 20%
            places = sorted({n * j // PARETO_POINTS for j in range(PARETO_POINTS + 1)} | {int(n * 0.2)})
            sums = ", ".join(
                f"CAST(coalesce(sum(CASE WHEN place < {p} THEN spend_cents ELSE 0 END), 0) AS BIGINT)" for p in places
            )
            cumulative = dict(zip(places, e.rows(f"SELECT {sums} FROM {customers}")[0]))
            curve = [(j / PARETO_POINTS, cumulative[n * j // PARETO_POINTS] / spend) for j in range(PARETO_POINTS + 1)]
            top20 = cumulative[int(n * 0.2)] / spend
    rank_counts = sorted(
        ((rank, count) for rank, count in e.rows(f"SELECT value_rank, count(*) FROM {customers} GROUP BY value_rank")),
        key=lambda kv: _rank_order(kv[0]),
    )
    return {
        "start": start.isoformat(),
        "end": end.isoformat(),
        "customers": n,
        "spend_cents": spend,
        "margin_cents": margin,
        "top20": top20,
        "retention": retained,
        "curve": curve,
        "deciles": deciles,
        "rank_counts": rank_counts,
        "top": top,
        "stores": identification_by_store(e, start, end),
        "points": points_summary(e, start, end, as_of=end, point_cents=point_cents, cheques_cents=cheques_cents),
    }


@dataclass
class CampaignInputs:
    """What campaigns.analyse needs from the tickets and the ledger: spend and offer entries per member card."""

    spend: list[tuple[str, int]]
    offers: list[tuple[str, int, int]]


def campaign_inputs(
    e: Engine, campaign_id: int, members: list[tuple[str, str, str]], starts: date, ends: date
) -> CampaignInputs:
    """`members`: (customer, card, group) of the campaign (its campaign_members rows)."""
    e.register("campaign_cards", [("customer", "string"), ("card", "string"), ("grp", "string")], members)
    return CampaignInputs(
        e.rows(campaign_spend_sql(e, starts, ends)), e.rows(campaign_offers_sql(e, campaign_id, starts, ends))
    )


def last_day(e: Engine) -> date | None:
    """The last day with a ticket in the archive (None when it holds none)."""
    return e.rows("SELECT max(day) FROM tickets")[0][0]


def office_figures(
    engine_name: str,
    archive,
    owners: dict[str, int],
    start: date | None = None,
    end: date | None = None,
    point_cents: int | None = None,
    cheques_cents: int = 0,
) -> dict:
    """The value dashboard's figures over [start, end] computed by the engine named (`loyalty office figures`):
    by default the year up to the archive's last day with a ticket."""
    from datetime import timedelta

    from .engines import EngineError, engine
    from .value import point_value_cents

    if start is not None and end is not None and end < start:
        raise EngineError(f"the period ends ({end}) before it starts ({start}): swap --start and --end")
    with engine(engine_name, archive) as e:
        if end is None:
            end = last_day(e) or date.today()
        if start is None:
            start = end - timedelta(days=364)
        if end < start:
            raise EngineError(f"the period ends ({end}) before it starts ({start}): give a --start before it")
        prepare(e, owners)
        return value_dashboard(
            e, start, end, point_value_cents() if point_cents is None else point_cents, cheques_cents
        )
