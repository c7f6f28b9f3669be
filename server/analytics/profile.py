"""What the tickets say about each customer: category affinity, favourite store and day, basket, price
sensitivity, RFM and value rank, trend and churn risk; in figures (for the API and the next best offer) and in
sentences a card manager reads on the customer page.

Read from the server's tickets and lines (SQLite or PostgreSQL) over the 365 days up to `end`, or, for every
customer at once, from the Parquet archive through DuckDB when one is given (the same figures from the same
rows; tickets not exported yet are left out). RFM and value rank come from the card_day aggregate
(server/analytics/value.py) over the same days. A registered customer's cards count as one customer, as
everywhere in the analytics.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from pathlib import Path

from programme.i18n import N_, _, format_money, format_number, format_percent, ngettext

from .rfm import rfm_scores
from .value import card_owners, customer_values, value_ranks

PERIOD_DAYS = 365
TREND_DAYS = 90  # spend of the last 90 days against the 90 before
TREND_STEADY = 0.2  # within +-20%: steady
AFFINITY_SHOWN = 1.3  # a category bought 1.3x the store's share or more is named on the page
CHURN_MEDIUM, CHURN_HIGH = 1.5, 3.0  # days since the last visit, in multiples of the customer's own rhythm
CACHE_SECONDS = 600  # the store mixes and the ranks of everyone, kept this long for the customer page
WEEKDAYS = [N_("Monday"), N_("Tuesday"), N_("Wednesday"), N_("Thursday"), N_("Friday"), N_("Saturday"), N_("Sunday")]


@dataclass
class Profile:
    key: str  # "customer:<id>" or the card number
    cards: list[str]
    start: str
    end: str
    tickets: int = 0
    visits: int = 0  # distinct days
    spend_cents: int = 0
    basket_cents: int = 0  # mean ticket total
    items_per_ticket: float = 0.0
    favourite_store: str = ""
    favourite_weekday: int | None = None  # 0 Monday .. 6 Sunday
    last_visit: str = ""
    days_since_last: int | None = None
    rhythm_days: float | None = None  # mean days between two visits (None below two visits)
    churn_risk: str = "unknown"  # "low", "medium", "high", "unknown"
    churn_ratio: float | None = None  # days since last visit / rhythm
    recent_cents: int = 0  # spend of the last TREND_DAYS days
    before_cents: int = 0  # spend of the TREND_DAYS before those
    trend: str = "unknown"  # "rising", "falling", "steady", "unknown"
    promoted_share: float = 0.0  # share of lines bought on promotion (a discount on the line)
    store_promoted_share: float = 0.0  # the same in the favourite store, all customers
    category_cents: dict[str, int] = field(default_factory=dict)
    affinity: dict[str, float] = field(default_factory=dict)  # category -> customer share / store share
    rfm: str = ""
    value_rank: str = ""

    def as_json(self) -> dict:
        return asdict(self)


@dataclass
class _Card:
    days: dict[str, int] = field(default_factory=dict)  # day -> spend
    stores: dict[str, int] = field(default_factory=dict)  # store -> tickets
    weekdays: list[int] = field(default_factory=lambda: [0] * 7)
    tickets: int = 0
    spend: int = 0
    lines: int = 0
    promoted: int = 0
    categories: dict[str, int] = field(default_factory=dict)


def period(end: date) -> tuple[date, date]:
    return end - timedelta(days=PERIOD_DAYS - 1), end


def _bounds(start: date, end: date) -> tuple[str, str]:
    return start.isoformat(), (end + timedelta(days=1)).isoformat()


def _cards_filter(cards: list[str] | None) -> tuple[str, list]:
    if cards is None:
        return "t.card IS NOT NULL", []
    return f"t.card IN ({','.join('?' * len(cards))})", list(cards)


def _fold(tickets, lines) -> dict[str, _Card]:
    """Per card, from rows (card, store, day "YYYY-MM-DD", total) and (card, category, spend, lines, promoted)."""
    found: dict[str, _Card] = {}
    for card, store, day, total in tickets:
        c = found.setdefault(card, _Card())
        c.days[day] = c.days.get(day, 0) + total
        c.stores[store] = c.stores.get(store, 0) + 1
        c.weekdays[date.fromisoformat(day).weekday()] += 1
        c.tickets += 1
        c.spend += total
    for card, category, spend, count, promoted in lines:
        c = found.setdefault(card, _Card())
        c.categories[category] = c.categories.get(category, 0) + spend
        c.lines += count
        c.promoted += promoted
    return found


PROMOTED = "sum(CASE WHEN l.discount_cents > 0 THEN 1 ELSE 0 END)"


def _gather(conn, start: date, end: date, cards: list[str] | None) -> dict[str, _Card]:
    """Per card: tickets by day, store and weekday, and lines by category (one pass each)."""
    where, args = _cards_filter(cards)
    low, high = _bounds(start, end)
    tickets = (
        (card, store, closed_at[:10], total)
        for card, store, closed_at, total in conn.execute(
            f"SELECT t.card, t.store, t.closed_at, t.total_cents FROM tickets t WHERE {where} "
            "AND t.closed_at >= ? AND t.closed_at < ?",
            (*args, low, high),
        )
    )
    lines = conn.execute(
        f"SELECT t.card, l.category, sum(l.total_cents), count(*), {PROMOTED} FROM lines l "
        f"JOIN tickets t ON t.id = l.ticket_id WHERE {where} AND t.closed_at >= ? AND t.closed_at < ? "
        "GROUP BY t.card, l.category",
        (*args, low, high),
    )
    return _fold(tickets, lines)


def _in_archive(start: date, end: date, alias: str) -> tuple[str, list]:
    return (
        f"{alias}.month BETWEEN ? AND ? AND {alias}.day BETWEEN ? AND ?",
        [start.strftime("%Y-%m"), end.strftime("%Y-%m"), start, end],
    )


def _gather_archive(db, start: date, end: date) -> dict[str, _Card]:
    """_gather for every card, from the archive's views (lines carry their ticket's card, store and day)."""
    where, args = _in_archive(start, end, "t")
    tickets = (
        (card, store, day.isoformat(), total)
        for card, store, day, total in db.execute(
            f"SELECT t.card, t.store, t.day, t.total_cents FROM tickets t WHERE t.card IS NOT NULL AND {where}", args
        ).fetchall()
    )
    where, args = _in_archive(start, end, "l")
    lines = db.execute(
        f"SELECT l.card, l.category, sum(l.total_cents)::BIGINT, count(*), {PROMOTED} FROM lines l "
        f"WHERE l.card IS NOT NULL AND {where} GROUP BY l.card, l.category",
        args,
    ).fetchall()
    return _fold(tickets, lines)


@dataclass
class StoreMix:
    categories: dict[str, float]  # category -> share of the store's spend
    promoted_share: float


def store_mixes(conn, start: date, end: date, stores: list[str] | None = None) -> dict[str, StoreMix]:
    """Each store's category shares of spend and share of promoted lines, every ticket (cards or not)."""
    if stores is not None and not stores:
        return {}  # no store asked about (a customer with no ticket in the period): `IN ()` is no SQL on PostgreSQL
    low, high = _bounds(start, end)
    where, args = ("", []) if stores is None else (f"AND t.store IN ({','.join('?' * len(stores))})", list(stores))
    return _mixes(
        conn.execute(
            f"SELECT t.store, l.category, sum(l.total_cents), count(*), {PROMOTED} FROM lines l "
            f"JOIN tickets t ON t.id = l.ticket_id WHERE t.closed_at >= ? AND t.closed_at < ? {where} "
            "GROUP BY t.store, l.category",
            (low, high, *args),
        )
    )


def _store_mixes_archive(db, start: date, end: date) -> dict[str, StoreMix]:
    where, args = _in_archive(start, end, "l")
    return _mixes(
        db.execute(
            f"SELECT l.store, l.category, sum(l.total_cents)::BIGINT, count(*), {PROMOTED} "
            f"FROM lines l WHERE {where} GROUP BY l.store, l.category",
            args,
        ).fetchall()
    )


def _mixes(rows) -> dict[str, StoreMix]:
    spend: dict[str, dict[str, int]] = {}
    counts: dict[str, list[int]] = {}
    for store, category, cents, lines, promoted in rows:
        spend.setdefault(store, {})[category] = cents
        n = counts.setdefault(store, [0, 0])
        n[0] += lines
        n[1] += promoted
    mixes = {}
    for store, by_category in spend.items():
        total = sum(v for v in by_category.values() if v > 0) or 1
        lines, promoted = counts[store]
        mixes[store] = StoreMix(
            {c: max(v, 0) / total for c, v in by_category.items()}, promoted / lines if lines else 0.0
        )
    return mixes


def _merge(cards: list[str], per_card: dict[str, _Card]) -> _Card:
    merged = _Card()
    for card in cards:
        c = per_card.get(card)
        if c is None:
            continue
        for day, cents in c.days.items():
            merged.days[day] = merged.days.get(day, 0) + cents
        for store, n in c.stores.items():
            merged.stores[store] = merged.stores.get(store, 0) + n
        for category, cents in c.categories.items():
            merged.categories[category] = merged.categories.get(category, 0) + cents
        merged.weekdays = [a + b for a, b in zip(merged.weekdays, c.weekdays)]
        merged.tickets += c.tickets
        merged.spend += c.spend
        merged.lines += c.lines
        merged.promoted += c.promoted
    return merged


def _profile(key: str, cards: list[str], c: _Card, start: date, end: date, mixes: dict[str, StoreMix]) -> Profile:
    p = Profile(key, sorted(cards), start.isoformat(), end.isoformat())
    if not c.tickets:
        return p
    p.tickets, p.spend_cents, p.visits = c.tickets, c.spend, len(c.days)
    p.basket_cents = c.spend // c.tickets
    p.items_per_ticket = round(c.lines / c.tickets, 1)
    p.favourite_store = max(c.stores.items(), key=lambda kv: (kv[1], kv[0]))[0]
    p.favourite_weekday = max(range(7), key=lambda d: (c.weekdays[d], -d))
    days = sorted(c.days)
    p.last_visit = days[-1]
    p.days_since_last = (end - date.fromisoformat(days[-1])).days
    if len(days) >= 2:
        p.rhythm_days = round((date.fromisoformat(days[-1]) - date.fromisoformat(days[0])).days / (len(days) - 1), 1)
        p.churn_ratio = round(p.days_since_last / max(p.rhythm_days, 1.0), 2)
        p.churn_risk = "high" if p.churn_ratio >= CHURN_HIGH else "medium" if p.churn_ratio >= CHURN_MEDIUM else "low"
    recent_from = (end - timedelta(days=TREND_DAYS - 1)).isoformat()
    before_from = (end - timedelta(days=2 * TREND_DAYS - 1)).isoformat()
    p.recent_cents = sum(v for d, v in c.days.items() if d >= recent_from)
    p.before_cents = sum(v for d, v in c.days.items() if before_from <= d < recent_from)
    if p.before_cents > 0:
        change = (p.recent_cents - p.before_cents) / p.before_cents
        p.trend = "rising" if change > TREND_STEADY else "falling" if change < -TREND_STEADY else "steady"
    elif p.recent_cents > 0 and days[0] < before_from:
        p.trend = "rising"
    p.promoted_share = round(c.promoted / c.lines, 3) if c.lines else 0.0
    mix = mixes.get(p.favourite_store)
    p.category_cents = dict(sorted(c.categories.items(), key=lambda kv: (-kv[1], kv[0])))
    if mix is not None:
        p.store_promoted_share = round(mix.promoted_share, 3)
        total = sum(v for v in c.categories.values() if v > 0) or 1
        p.affinity = {
            cat: round((max(cents, 0) / total) / mix.categories[cat], 2)
            for cat, cents in p.category_cents.items()
            if mix.categories.get(cat)
        }
    return p


def profiles(
    conn, end: date, cards_of: dict[str, list[str]] | None = None, archive: str | Path | None = None
) -> dict[str, Profile]:
    """key -> Profile for every customer with a ticket in the 365 days up to `end` (or for the customers of
    `cards_of`: key -> their cards), with RFM and value rank against everyone. `archive`: read the tickets
    from that Parquet archive (DuckDB) instead of the server's tables."""
    return profiles_and_mixes(conn, end, cards_of, archive)[0]


def profiles_and_mixes(
    conn, end: date, cards_of: dict[str, list[str]] | None = None, archive: str | Path | None = None
) -> tuple[dict[str, Profile], dict[str, StoreMix]]:
    """profiles(), and the stores' mixes they were measured against."""
    start, end = period(end)
    if archive is not None:
        from .archive_db import open_archive

        db = open_archive(archive)
        try:
            per_card, mixes = _gather_archive(db, start, end), _store_mixes_archive(db, start, end)
        finally:
            db.close()
    else:
        per_card = _gather(conn, start, end, None if cards_of is None else [c for cs in cards_of.values() for c in cs])
        mixes = store_mixes(conn, start, end)
    if cards_of is None:
        owners = card_owners(conn)
        cards_of = {}
        for card in per_card:
            owner = owners.get(card)
            cards_of.setdefault(f"customer:{owner}" if owner is not None else card, []).append(card)
    rfm, ranks = _ranks(conn, start, end)
    found = {}
    for key, cards in cards_of.items():
        p = _profile(key, cards, _merge(cards, per_card), start, end, mixes)
        p.rfm, p.value_rank = rfm.get(key, ""), ranks.get(key, "")
        found[key] = p
    return found, mixes


_cache: dict[tuple, tuple[float, object]] = {}


def _cached(key: tuple, compute):
    now = time.monotonic()
    hit = _cache.get(key)
    if hit is not None and now - hit[0] < CACHE_SECONDS:
        return hit[1]
    value = compute()
    _cache[key] = (now, value)
    return value


def _ranks(conn, start: date, end: date) -> tuple[dict[str, str], dict[str, str]]:
    values = customer_values(conn, start, end)
    return {k: r.code for k, r in rfm_scores(values).items()}, value_ranks(values)


def customer_profile(conn, customer_id: int, cards: list[str], end: date, cache_as: str = "") -> Profile:
    """One desk customer's profile (their cards), for the customer page and the API.

    Their own tickets are read each time. Their store's mix and everyone's ranks need every ticket of the
    year: on a small database (at most INLINE_ROWS card_day rows over it) they are computed here and kept
    CACHE_SECONDS under `cache_as` (the database's name); on a larger one they come from the snapshot the
    daily next best offer job keeps (save_snapshot), missing until it has run."""
    start, end = period(end)
    key = f"customer:{customer_id}"
    per_card = _gather(conn, start, end, cards) if cards else {}
    merged = _merge(cards, per_card)
    store = max(merged.stores.items(), key=lambda kv: (kv[1], kv[0]))[0] if merged.stores else None
    stores = [store] if store else []
    if not small(conn, start, end):
        mixes, (rfm, ranks) = snapshot_mixes(conn, stores), snapshot_ranks(conn, key)
    elif cache_as:
        mixes = _cached((cache_as, "mix", store, end), lambda: store_mixes(conn, start, end, stores))
        rfm, ranks = _cached((cache_as, "ranks", end), lambda: _ranks(conn, start, end))
    else:
        mixes = store_mixes(conn, start, end, stores)
        rfm, ranks = _ranks(conn, start, end)
    p = _profile(key, cards, merged, start, end, mixes)
    p.rfm, p.value_rank = rfm.get(key, ""), ranks.get(key, "")
    return p


INLINE_ROWS = 200_000  # card_day rows over the year: above, the customer page reads the daily job's snapshot


def small(conn, start: date, end: date) -> bool:
    """Whether everyone's year is small enough to read for one page (a bounded count)."""

    return (
        conn.execute(
            "SELECT count(*) FROM (SELECT 1 FROM card_day WHERE day >= ? AND day <= ? LIMIT ?) found",
            (start.isoformat(), end.isoformat(), INLINE_ROWS + 1),
        ).fetchone()[0]
        <= INLINE_ROWS
    )


def save_snapshot(conn, day: date, found: dict[str, Profile], mixes: dict[str, StoreMix]) -> None:
    """Keep the store mixes and these customers' ranks for the customer page (the daily job calls this)."""
    from server.storage.connection import joined_or_own_transaction

    with joined_or_own_transaction(conn):
        conn.execute("DELETE FROM profile_store_mix")
        conn.executemany(
            "INSERT INTO profile_store_mix VALUES (?, ?, ?, ?, ?)",
            [
                (store, category, share, mix.promoted_share, day.isoformat())
                for store, mix in sorted(mixes.items())
                for category, share in sorted(mix.categories.items())
            ],
        )
        conn.executemany(
            "INSERT INTO profile_ranks VALUES (?, ?, ?, ?) ON CONFLICT (customer) DO UPDATE SET "
            "rfm = excluded.rfm, value_rank = excluded.value_rank, day = excluded.day",
            [(key, p.rfm, p.value_rank, day.isoformat()) for key, p in sorted(found.items()) if p.rfm],
        )


def snapshot_mixes(conn, stores: list[str]) -> dict[str, StoreMix]:
    mixes: dict[str, StoreMix] = {}
    for store in stores:
        rows = conn.execute(
            "SELECT category, share, promoted_share FROM profile_store_mix WHERE store = ?", (store,)
        ).fetchall()
        if rows:
            mixes[store] = StoreMix({c: share for c, share, _ in rows}, rows[0][2])
    return mixes


def snapshot_ranks(conn, key: str) -> tuple[dict[str, str], dict[str, str]]:
    row = conn.execute("SELECT rfm, value_rank FROM profile_ranks WHERE customer = ?", (key,)).fetchone()
    return ({key: row[0]}, {key: row[1]}) if row else ({}, {})


def _rank_words(rank: str) -> str:
    if rank == "top decile":
        return _("among the 10% biggest spenders")
    if rank == "below zero":
        return _("costs more in points than the margin they bring")
    if rank.startswith("decile "):
        return _("in the {n}th tenth of customers by spend (1st is the best)").format(n=rank.split()[1])
    return ""


def sentences(p: Profile) -> list[str]:
    """The profile as a card manager reads it ("what we know"), in the current language."""
    if not p.tickets:
        return [_("No ticket with this customer's cards in the last 12 months: nothing to say yet.")]
    out = []
    weekday = _(WEEKDAYS[p.favourite_weekday]) if p.favourite_weekday is not None else ""
    out.append(
        _("Shops mostly at store {store}, most often on {weekday}.").format(store=p.favourite_store, weekday=weekday)
    )
    visits = ngettext("{n} visit in the last 12 months", "{n} visits in the last 12 months", p.visits).format(
        n=format_number(p.visits)
    )
    if p.rhythm_days is not None:
        visits += _(", about one every {days} days").format(days=format_number(round(p.rhythm_days)))
    out.append(
        _("{visits}; an average basket of {basket} ({items} items).").format(
            visits=visits, basket=format_money(p.basket_cents), items=format_number(p.items_per_ticket)
        )
    )
    liked = [
        (cat, idx) for cat, idx in sorted(p.affinity.items(), key=lambda kv: (-kv[1], kv[0])) if idx >= AFFINITY_SHOWN
    ][:3]
    if liked:
        out.append(
            _("Buys more than the store's customers in: {list}.").format(
                list=", ".join(
                    _("{category} ({times}x the store's share)").format(category=cat, times=format_number(idx))
                    for cat, idx in liked
                )
            )
        )
    else:
        out.append(_("Buys much like the store's customers: no category stands out."))
    out.append(
        _("{share} of the items they buy are on promotion (store average {store_share}): {words}.").format(
            share=format_percent(p.promoted_share),
            store_share=format_percent(p.store_promoted_share),
            words=(
                _("watches prices")
                if p.promoted_share > 1.5 * p.store_promoted_share + 0.02
                else _("not especially price-sensitive")
            ),
        )
    )
    if p.value_rank:
        out.append(
            _("Value: {rank} (RFM score {rfm}: recency, frequency, spend, 5 is best).").format(
                rank=_rank_words(p.value_rank), rfm="-".join(p.rfm)
            )
        )
    trend = {
        "rising": _("Spending is rising"),
        "falling": _("Spending is falling"),
        "steady": _("Spending is steady"),
    }.get(p.trend)
    if trend:
        out.append(
            _("{trend}: {recent} in the last 90 days, {before} in the 90 days before.").format(
                trend=trend, recent=format_money(p.recent_cents), before=format_money(p.before_cents)
            )
        )
    if p.churn_risk == "unknown":
        out.append(
            _("Last visit {days} days ago; too few visits to know their rhythm.").format(
                days=format_number(p.days_since_last or 0)
            )
        )
    else:
        risk = {"low": _("low"), "medium": _("medium"), "high": _("high")}[p.churn_risk]
        out.append(
            _("Risk of losing them: {risk} (last visit {days} days ago, usually every {rhythm} days).").format(
                risk=risk, days=format_number(p.days_since_last or 0), rhythm=format_number(round(p.rhythm_days or 0))
            )
        )
    return out
