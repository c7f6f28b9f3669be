"""Realistic generated head-office data, written straight into the store's tables in large batches.

Skewed spending (a customer's visit rate and basket size are log-normal, so a minority makes most
sales), stores of different sizes, seasonal months (December high, August low), weekly (Saturday
about 22%) and daily peaks (12-13h, 19-20h), categories with their own prices. Tickets are real:
the payload is the message a till sends, hashes chain per till, points are what a till computes:
the rules engine with the rules version the database publishes (the shipped default when none), the card's tier
as head office knows it, the card's offers in force (respond).

With hidden tastes (Plan.hidden_tastes, `loyalty generate --hidden-tastes`) each customer also gets traits the
tickets show but nothing names: a favourite category (a third of their lines come from it), a taste for
promotions (45% of their lines discounted against 8%), or drifting away (no visit in the last LAPSE_DAYS days).
They are kept in `generated_tastes`; `respond()` then plays the days of the offers chosen for them (the
next best offer's campaigns), where an offer works when it fits the trait (TRUE_RESPONSE), so a check can
measure whether the chooser found them.
"""

from __future__ import annotations

import hashlib
import queue
import random
import threading
from bisect import bisect_left, bisect_right
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from itertools import accumulate

import msgspec

from programme.campaign_offers import CampaignOffer, earn_with_offers, in_force
from programme.cardnumber import make_card_number
from programme.engine import local_day
from programme.ledger import TIER_WINDOW, last_review, tier_status
from programme.points import default_rules
from programme.redemption import payable_with_points
from programme.rules import RuleSet
from programme.ticket import GENESIS_HASH, Line, PointsEntry, Tender, Ticket

from ..errors import ServerError
from server.desk.rules_versions import recorded_versions
from server.ingest.rules_check import TIER_HISTORY, TierBook
from server.ingest.store_rows import ledger_rows, ticket_row
from server.storage.connection import Connection, transaction

TILLS_PER_STORE = 6
BATCH = 20_000
IDENTIFIED_SHARE = 0.75  # tickets with a card
REGISTERED_SHARE = 0.85  # cards with a customer at the desk
REDEEMED = 500  # points a card with 1,500 or more sometimes tenders
MONTH_WEIGHT = [0.85, 0.85, 0.95, 0.95, 1.0, 1.0, 0.95, 0.85, 1.0, 1.0, 1.05, 1.35]
WEEKDAY_WEIGHT = [0.12, 0.12, 0.13, 0.14, 0.18, 0.22, 0.09]  # Monday first; Saturday about 22%
HOUR_WEIGHT = {8: 3, 9: 5, 10: 7, 11: 9, 12: 13, 13: 10, 14: 6, 15: 6, 16: 7, 17: 9, 18: 11, 19: 12, 20: 6}
CATEGORIES = [  # name, share of lines, price range in cents
    ("grocery", 30, (45, 650)),
    ("fresh", 18, (90, 1200)),
    ("dairy", 12, (60, 480)),
    ("drinks", 12, (70, 1500)),
    ("household", 8, (120, 900)),
    ("hygiene", 7, (150, 1100)),
    ("textile", 3, (499, 3999)),
    ("electronics", 1, (999, 19999)),
    ("tobacco", 2, (1050, 1250)),
    ("fuel", 1, (3000, 9000)),
    ("gift_card", 1, (1500, 5000)),
    ("deposit", 5, (10, 25)),
]
FIRST_NAMES = ["Marie", "Jean", "Sophie", "Pierre", "Camille", "Luc", "Julie", "Paul", "Emma", "Louis", "Chloé", "Hugo"]
LAST_NAMES = ["Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy", "Moreau"]
_encode = msgspec.json.Encoder().encode


@dataclass
class Plan:
    customers: int
    tickets: int
    stores: int
    seed: int = 0
    end: date | None = None  # last day of the year of sales (default: yesterday, UTC)
    hidden_tastes: bool = False


TASTES = ["fresh", "dairy", "drinks", "household", "hygiene"]  # favourite categories a customer may have
TASTE_SHARE = 0.55  # customers with a favourite category
PRICE_WATCHERS = 0.3  # customers who look for promotions
LAPSING = 0.2  # customers drifting away
LAPSE_DAYS = 45
FAVOURITE_LINES = 0.35  # share of a taster's lines drawn from their category
DISCOUNTED = (0.08, 0.45)  # share of lines on promotion: most customers, price watchers
# The chance an offer brings an extra visit in its days: (when it fits the trait, when it does not)
TRUE_RESPONSE = {"category_points": (0.5, 0.02), "basket_cheque": (0.45, 0.03), "winback": (0.4, 0.02)}
TASTES_SCHEMA = """
CREATE TABLE IF NOT EXISTS generated_tastes (
    card TEXT PRIMARY KEY,
    taste TEXT NOT NULL,
    price_watcher INTEGER NOT NULL,
    lapsing INTEGER NOT NULL,
    visit_weight REAL NOT NULL,
    basket_factor REAL NOT NULL,
    home_store TEXT NOT NULL
);
"""


def card_of(n: int) -> str:
    return make_card_number(f"29{n:010d}")


def _allocate(total: int, weights: list[float]) -> list[int]:
    """Split `total` in proportion to `weights` exactly (largest remainder)."""
    s = sum(weights)
    raw = [total * w / s for w in weights]
    counts = [int(r) for r in raw]
    for i in sorted(range(len(raw)), key=lambda i: counts[i] - raw[i])[: total - sum(counts)]:
        counts[i] += 1
    return counts


POSTGRES_REFUSED = (
    "the generator writes SQLite files only: generate into a file (--db generated.db), or fill "
    "PostgreSQL through ingest (`loyalty demo`, or tills syncing to "
    "`loyalty server --db postgresql://...`)"
)


def refuse_postgres(target) -> None:
    """The generator writes SQLite's tables directly, at 10 M tickets: PostgreSQL is refused, saying what to do."""
    if str(target).startswith(("postgresql://", "postgres://")):
        raise ServerError(POSTGRES_REFUSED)


def generate(conn: Connection, plan: Plan, progress: Callable[[int], None] | None = None) -> dict:
    """Fill an empty server database; returns counts. `progress(n)` is called with tickets written so far."""
    if getattr(conn, "dialect", "sqlite") != "sqlite":
        raise ServerError(POSTGRES_REFUSED)
    if conn.execute("SELECT count(*) FROM tickets").fetchone()[0]:
        raise ServerError("the database already holds tickets: generate into a new file (give another --db)")
    rng = random.Random(plan.seed)
    world = _World(rng, plan)
    _write_customers(conn, rng, plan.customers, world.days[0])
    tastes = _draw_tastes(conn, random.Random(plan.seed + 1), plan, world) if plan.hidden_tastes else None
    tills = _Tills(conn, progress=progress)
    year = _Year(rng, world, tastes, tills)
    for day, count in zip(world.days, world.per_day):
        year.play_day(day, count)
    seen = datetime.combine(world.end, datetime.max.time(), timezone.utc).replace(microsecond=0).isoformat()
    tills.finish(seen)
    if progress:
        progress(tills.closed)
    return {
        "customers": plan.customers,
        "tickets": tills.closed,
        "stores": plan.stores,
        "terminals": len(tills.seqs),
        "lines": tills.batch.lines_written,
        "first_day": world.days[0].isoformat(),
        "last_day": world.end.isoformat(),
    }


class _World:
    """What a generated year is drawn in: its days, the stores and their weights, the articles, the customers
    (card, home store, visit weight, basket factor) and the tickets of each day."""

    def __init__(self, rng: random.Random, plan: Plan):
        self.plan = plan
        self.end = end = plan.end or (datetime.now(timezone.utc).date() - timedelta(days=1))
        self.days = [end - timedelta(days=364 - n) for n in range(365)]
        self.stores = [f"S{n:03d}" for n in range(1, plan.stores + 1)]
        self.store_weight = [rng.lognormvariate(0, 0.5) for _ in self.stores]
        self.articles = []
        for n in range(3000):
            name, _, (low, high) = rng.choices(CATEGORIES, [c[1] for c in CATEGORIES])[0]
            self.articles.append((make_card_number(f"3{n:011d}"), f"{name} {n}", name, rng.randint(low, high)))
        self.visit = [rng.lognormvariate(0, 1.0) for _ in range(plan.customers)]
        self.basket = [rng.lognormvariate(0, 0.4) for _ in range(plan.customers)]
        self.home = rng.choices(range(len(self.stores)), self.store_weight, k=plan.customers)
        self.cards = [card_of(n + 1) for n in range(plan.customers)]
        self.cum_visit = list(accumulate(self.visit))
        self.by_category: dict[str, list] = {}
        for article in self.articles:
            self.by_category.setdefault(article[2], []).append(article)
        weights = [MONTH_WEIGHT[d.month - 1] * WEEKDAY_WEIGHT[d.weekday()] for d in self.days]
        self.per_day = _allocate(plan.tickets, weights)
        self.lapse_from = (end - timedelta(days=LAPSE_DAYS - 1)).isoformat()


class _Year:
    """The year's visits, day by day: who comes, where, with which basket; tickets closed by the tills."""

    def __init__(self, rng: random.Random, world: _World, tastes: list | None, tills: _Tills):
        self.rng, self.world, self.tastes, self.tills = rng, world, tastes, tills
        self.balance: dict[str, int] = {}  # the cards' points, for the points tenders
        # Points tenders are drawn apart, so the rules' points never change the visits and baskets drawn.
        self.tender_rng = random.Random(world.plan.seed + 2)

    def play_day(self, day: date, count: int) -> None:
        if not count:
            return
        rng, world = self.rng, self.world
        customers = world.plan.customers
        who = rng.choices(range(customers), cum_weights=world.cum_visit, k=count) if customers else [None] * count
        hours, hour_w = list(HOUR_WEIGHT), list(HOUR_WEIGHT.values())
        secs = sorted(rng.choices(hours, hour_w, k=count))
        base = datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
        times = sorted(base + timedelta(hours=h, seconds=rng.randrange(3600)) for h in secs)
        lapsed = self.tastes is not None and day.isoformat() >= world.lapse_from
        for closed, customer in zip(times, who):
            if customer is None or rng.random() >= IDENTIFIED_SHARE:
                self.sell(closed, None, None, rng.choices(range(len(world.stores)), world.store_weight)[0])
            elif not (lapsed and self.tastes[customer][2]):  # drifting away: no visit at the end of the year
                home = world.home[customer]
                self.sell(closed, customer, world.cards[customer], home if rng.random() < 0.9 else None)

    def sell(self, closed: datetime, customer: int | None, card: str | None, store: int | None) -> None:
        rng, world = self.rng, self.world
        if store is None:
            store = rng.randrange(len(world.stores))
        terminal = f"{world.stores[store]}-T{rng.randint(1, TILLS_PER_STORE):02d}"
        factor = world.basket[customer] if card else 1.0
        size = min(60, max(1, int(rng.expovariate(1 / 9) * factor) + 1))
        if self.tastes is None:
            lines = _lines(rng, rng.choices(world.articles, k=size))
        else:
            taste, watcher, _ = self.tastes[customer] if card else ("", False, False)
            lines = _taste_lines(rng, world.articles, world.by_category, size, taste, watcher)
        opened = closed - timedelta(seconds=30 + 10 * size)
        points, rules = self.tills.points.earn(lines, card, opened, world.stores[store])
        total = sum([li.total_cents for li in lines])
        tenders = [Tender("bank_card" if total > 2000 else "cash", total)]
        if card:
            held = self.balance.get(card, 0)
            cents = REDEEMED * rules.redemption.cents_per_point
            if held >= 1500 and self.tender_rng.random() < 0.1 and payable_with_points(rules, lines) > cents:
                points.append(PointsEntry("redeem", "points tender", REDEEMED))
                tenders = [Tender("points", cents), Tender(tenders[0].kind, total - cents)]
                held -= REDEEMED
            self.balance[card] = held + sum(e.points for e in points if e.kind == "earn")
        cashier = f"c{rng.randint(1, 40):02d}"
        self.tills.close(terminal, world.stores[store], cashier, opened, closed, lines, tenders, card, points, rules)


def _lines(rng: random.Random, picked: list, discounted: float = 0.0) -> list[Line]:
    """Lines of these articles (quantities 1 to 4; a share `discounted` of them 10% off)."""
    lines = []
    random_ = rng.random
    for gtin, label, category, unit in picked:
        r = random_()
        quantity = 1 if r < 0.8 else 2 + int((r - 0.8) * 15)  # 2..4
        discount = quantity * unit // 10 if discounted and random_() < discounted else 0
        lines.append(Line(gtin, label, category, quantity, unit, discount, quantity * unit - discount))
    return lines


def _taste_lines(
    rng: random.Random,
    articles: list,
    by_category: dict,
    size: int,
    taste: str,
    watcher: bool,
    favourite_share: float = FAVOURITE_LINES,
) -> list[Line]:
    picked = [
        rng.choice(by_category[taste]) if taste and rng.random() < favourite_share else rng.choice(articles)
        for _ in range(size)
    ]
    return _lines(rng, picked, DISCOUNTED[1] if watcher else DISCOUNTED[0])


def _draw_tastes(conn, rng: random.Random, plan: Plan, world: _World) -> list[tuple[str, bool, bool]]:
    """Each customer's hidden traits (favourite category or "", price watcher, drifting away), kept in
    generated_tastes with what `respond()` needs to play their next days."""
    found = []
    for _ in range(plan.customers):
        taste = rng.choice(TASTES) if rng.random() < TASTE_SHARE else ""
        found.append((taste, rng.random() < PRICE_WATCHERS, rng.random() < LAPSING))
    conn.executescript(TASTES_SCHEMA)
    with conn:
        conn.executemany(
            "INSERT INTO generated_tastes VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    world.cards[n],
                    t,
                    int(w),
                    int(lapse),
                    world.visit[n],
                    world.basket[n],
                    world.stores[world.home[n]],
                )
                for n, (t, w, lapse) in enumerate(found)
            ],
        )
    return found


def true_response(kind: str, category: str, taste: str, watcher: bool, lapsing: bool) -> float:
    """The chance an offer brings a customer in for an extra visit, from their hidden traits."""
    fits = {"category_points": bool(taste) and category == taste, "basket_cheque": watcher, "winback": lapsing}[kind]
    high, low = TRUE_RESPONSE[kind]
    return high if fits else low


def respond(conn: Connection, start: date, days: int, seed: int = 0) -> dict:
    """Play `days` days from `start` for the generated customers: each comes at their usual rate (none for
    those drifting away); an open next best offer brings an extra visit with its true chance, with a basket
    from the offer's category for bonus points on a category; the card's offer is used on its first ticket in
    the offer's days that can take it, as a till applies it (terminal.sale.points_now). Holdout and other
    customers get no offer. Tickets chain on from the tills' last; run the aggregates after. Returns counts."""
    rng = random.Random(seed)
    traits = _traits(conn)
    articles = [
        tuple(row)
        for row in conn.execute(
            "SELECT gtin, min(label), min(category), min(unit_cents) FROM lines GROUP BY gtin ORDER BY gtin"
        )
    ]
    by_category: dict[str, list] = {}
    for article in articles:
        by_category.setdefault(article[2], []).append(article)
    offers = _open_offers(conn, start, days)
    visits = _visits(conn, rng, traits, offers, [start + timedelta(days=n) for n in range(days)])
    tills = _Tills(conn, resume=True)
    tills.points.follow(conn, list(traits), start)
    used: set[str] = set()
    for closed, card, responded in visits:
        taste, watcher, _lapsing, _weight, factor, store = traits[card]
        offer, kind, category = offers.get(card, (None, "", ""))
        terminal = f"{store}-T{rng.randint(1, TILLS_PER_STORE):02d}"
        size = min(60, max(1, int(rng.expovariate(1 / 9) * factor) + 1))
        favourite = category if responded and kind == "category_points" else taste
        share = 0.5 if responded and favourite != taste else FAVOURITE_LINES
        lines = _taste_lines(rng, articles, by_category, size, favourite, watcher, share)
        opened = closed - timedelta(seconds=60)
        open_offers = [offer] if offer is not None and card not in used else []
        points, rules = tills.points.earn(lines, card, opened, store, open_offers)
        if offer is not None and any(e.rule == offer.rule for e in points):
            used.add(card)
        total = sum(li.total_cents for li in lines)
        tills.close(terminal, store, "c01", opened, closed, lines, [Tender("bank_card", total)], card, points, rules)
    tills.finish(None)
    return {"tickets": len(visits), "responded": sum(1 for v in visits if v[2]), "offers_used": len(used)}


def _traits(conn: Connection) -> dict[str, tuple]:
    """The generated customers' hidden traits by card: (taste, price watcher, lapsing, visit weight, basket factor,
    home store)."""
    traits = {
        card: (taste, bool(w), bool(lapse), visit, factor, store)
        for card, taste, w, lapse, visit, factor, store in conn.execute("SELECT * FROM generated_tastes ORDER BY card")
    }
    if not traits:
        raise ServerError("no generated customers with hidden tastes: generate with --hidden-tastes first")
    return traits


def _open_offers(conn: Connection, start: date, days: int) -> dict[str, tuple[CampaignOffer, str, str]]:
    """The next best offers open in the days played, by target card: (the offer as tills receive it, the offer
    type's kind, its category)."""
    offers = {}
    for card, campaign, name, kind, points, cheque, starts, ends, stores, type_kind, category, least in conn.execute(
        "SELECT m.card, c.id, c.name, c.kind, c.points, c.cheque_cents, c.starts, c.ends, c.stores, t.kind, "
        "t.category, c.min_basket_cents FROM nbo_choices n JOIN campaigns c ON c.id = n.campaign_id "
        "JOIN nbo_offer_types t ON t.id = n.offer_type_id "
        "JOIN campaign_members m ON m.campaign_id = c.id AND m.customer = n.customer AND m.grp = 'target' "
        "WHERE c.ends >= ? AND c.starts <= ?",
        (start.isoformat(), (start + timedelta(days=days - 1)).isoformat()),
    ):
        offer = CampaignOffer(
            campaign=campaign,
            name=name,
            kind=kind,
            starts=date.fromisoformat(starts),
            ends=date.fromisoformat(ends),
            points=points if kind == "bonus_points" else 0,
            cheque_cents=cheque if kind == "cheque" else 0,
            stores=[s for s in (stores or "").split(",") if s],
            cards=[card],
            category=category if type_kind == "category_points" else None,
            min_basket_cents=least,
        )
        offers[card] = (offer, type_kind, category)
    return offers


def _visits(conn: Connection, rng: random.Random, traits: dict, offers: dict, window: list[date]) -> list[tuple]:
    """The visits of the days played, in time order: (closed at, card, brought by the offer)."""
    total_weight = sum(t[3] for t in traits.values())
    card_tickets = conn.execute("SELECT count(*) FROM tickets WHERE card IS NOT NULL").fetchone()[0]
    first_day = conn.execute("SELECT min(substr(closed_at, 1, 10)) FROM tickets").fetchone()[0]
    span = (window[0] - date.fromisoformat(first_day)).days or 1
    visits: list[tuple[datetime, str, bool]] = []
    for card, (taste, watcher, lapsing, weight, _factor, _store) in traits.items():
        rate = 0.0 if lapsing else card_tickets * weight / total_weight / span
        for day in window:
            if rng.random() < rate:
                visits.append((_moment(rng, day), card, False))
        if card in offers:
            offer, kind, category = offers[card]
            in_days = [d for d in window if offer.starts <= d <= offer.ends]
            if in_days and rng.random() < true_response(kind, category, taste, watcher, lapsing):
                visits.append((_moment(rng, rng.choice(in_days)), card, True))
    visits.sort()
    return visits


def _moment(rng: random.Random, day: date) -> datetime:
    hour = rng.choices(list(HOUR_WEIGHT), list(HOUR_WEIGHT.values()))[0]
    return datetime(day.year, day.month, day.day, hour, rng.randrange(60), rng.randrange(60), tzinfo=timezone.utc)


class _TillPoints:
    """Points as a till computes them (terminal.sale.points_now), through the rules engine: the rules version in
    force when the ticket opens among those the database publishes (the shipped default when none), the card's
    tier as head office knows it then (the one it last gave the till), the card's offers in force."""

    def __init__(self, conn: Connection):
        known = {
            r.version: r for r in (default_rules(), *(r for _, r in recorded_versions(conn) if isinstance(r, RuleSet)))
        }
        self.versions = sorted(known.values(), key=lambda r: (r.effective_from, r.version))
        self.starts = [r.effective_from for r in self.versions]
        self.tiers = {r.version: _TierSpends(r) for r in self.versions if r.tiers}

    def rules_at(self, at: datetime) -> RuleSet:
        """programme.rules.version_in_force over the known versions (the latest effective_from not after `at`)."""
        found = bisect_right(self.starts, at)
        return self.versions[found - 1] if found else default_rules()

    def earn(
        self, lines: list[Line], card: str | None, at: datetime, store: str, offers: list[CampaignOffer] = ()
    ) -> tuple[list[PointsEntry], RuleSet]:
        """The ticket's earn entries (a list of its own) and the rules that gave them."""
        rules = self.rules_at(at)
        if card is None:
            return [], rules
        tiers = self.tiers.get(rules.version)
        tier = tiers.tier(card, at) if tiers is not None else None
        in_days = [o for o in offers if in_force(o, local_day(rules, at), store)]  # as a till finds them
        return earn_with_offers(lines, card, in_days, rules=rules, at=at, store=store, tier=tier), rules

    def spent(self, card: str, closed: datetime, lines: list[Line]) -> None:
        for spends in self.tiers.values():
            spends.add(card, closed, lines)

    def follow(self, conn: Connection, cards: list[str], start: date) -> None:
        """Read the cards' spends from the tickets already stored (server.ingest.rules_check.TierBook)."""
        since = datetime.combine(start, datetime.min.time(), timezone.utc) - TIER_HISTORY
        for spends in self.tiers.values():
            book = TierBook(conn)
            book.prefetch(spends.rules, cards, since)
            for (_, card), found in book.spends.items():
                for closed, cents in found:
                    spends.add_cents(card, closed, cents)


class _CardSpends:
    __slots__ = ("times", "prefix", "review", "best", "scanned")

    def __init__(self):
        self.times: list[datetime] = []
        self.prefix = [0]  # spend of the first n tickets
        self.review: datetime | None = None  # the review `best` is for
        self.best = 0  # the highest rolling spend at the review or at a spend since, up to `scanned`
        self.scanned = 0


class _TierSpends:
    """Each card's eligible spend per ticket under one rules version, and its tier when a ticket opens as head
    office knows it (server.ingest.rules_check.TierBook, programme.ledger.tier_status: the highest rolling spend
    at the last review or at any spend since), kept as the year goes rather than recomputed for each ticket."""

    def __init__(self, rules: RuleSet):
        self.rules = rules
        self.least = min(t.min_spend_cents for t in rules.tiers)
        self.categories = frozenset(rules.exclusions.categories)
        self.articles = frozenset(rules.exclusions.articles)
        self.cards: dict[str, _CardSpends] = {}

    def add(self, card: str, closed: datetime, lines: list[Line]) -> None:
        categories, articles = self.categories, self.articles
        cents = sum([li.total_cents for li in lines if li.category not in categories and li.gtin not in articles])
        if cents > 0:
            self.add_cents(card, closed, cents)

    def add_cents(self, card: str, closed: datetime, cents: int) -> None:
        s = self.cards.get(card)
        if s is None:
            s = self.cards[card] = _CardSpends()
        if s.times and closed < s.times[-1]:  # out of order: kept sorted, and the tier is worked out again
            spends = [s.prefix[n + 1] - s.prefix[n] for n in range(len(s.times))]
            at = bisect_right(s.times, closed)
            s.times.insert(at, closed)
            spends.insert(at, cents)
            s.prefix = [0, *accumulate(spends)]
            s.review = None
            return
        s.times.append(closed)
        s.prefix.append(s.prefix[-1] + cents)

    def tier(self, card: str, at: datetime) -> str | None:
        s = self.cards.get(card)
        if s is None:
            return None
        n = bisect_left(s.times, at)  # the tickets closed before `at`
        if s.prefix[n] < self.least:
            return None  # not even all of it together reaches the first tier
        review = last_review(self.rules, at)
        if s.review is None or review > s.review:
            s.review, s.scanned = review, bisect_right(s.times, review)
            s.best = self._rolling(s, review)
        elif review < s.review or n < s.scanned:  # asked about an earlier time: computed whole
            spends = [(s.times[i], s.prefix[i + 1] - s.prefix[i]) for i in range(n)]
            found = tier_status(self.rules, spends, at)
            return found.name if found else None
        for i in range(s.scanned, n):
            s.best = max(s.best, self._rolling(s, s.times[i]))
        s.scanned = max(s.scanned, n)
        name = None
        for t in self.rules.tiers:  # rising thresholds
            if s.best >= t.min_spend_cents:
                name = t.name
        return name

    @staticmethod
    def _rolling(s: _CardSpends, at: datetime) -> int:
        """The spend over the 12 months up to and including `at` (programme.ledger.rolling_spend)."""
        return s.prefix[bisect_right(s.times, at)] - s.prefix[bisect_right(s.times, at - TIER_WINDOW)]


class _Tills:
    """The tills' side of generated tickets: sequences and hash chains per till, points as a till computes them,
    the batch that writes them (`progress(n)` after each full batch); `resume`: chain on from the tickets
    already stored."""

    def __init__(self, conn: Connection, resume: bool = False, progress: Callable[[int], None] | None = None):
        self.conn = conn
        self.progress = progress
        self.closed = 0
        self.points = _TillPoints(conn)
        self.seqs: dict[str, int] = {}
        self.last_hash: dict[str, str] = {}
        if resume:
            self.seqs = dict(conn.execute("SELECT terminal, max_seq FROM terminals"))
            self.last_hash = dict(
                conn.execute(
                    "SELECT t.terminal, t.hash FROM tickets t "
                    "JOIN terminals m ON m.terminal = t.terminal AND m.max_seq = t.seq"
                )
            )
        self.batch = _Batch(conn)

    def close(
        self,
        terminal: str,
        store: str,
        cashier: str,
        opened: datetime,
        closed: datetime,
        lines: list[Line],
        tenders: list[Tender],
        card: str | None,
        points: list[PointsEntry],
        rules: RuleSet,
    ) -> None:
        seq = self.seqs[terminal] = self.seqs.get(terminal, 0) + 1
        total = sum([li.total_cents for li in lines])
        prev = self.last_hash.get(terminal, GENESIS_HASH)
        ticket = Ticket(
            f"{terminal}-{seq:08d}",
            terminal,
            seq,
            store,
            cashier,
            opened,
            closed,
            lines,
            tenders,
            total,
            card,
            points,
            rules.version,
            prev,
        )
        self.batch.add(ticket, _encode(ticket))
        self.last_hash[terminal] = self.batch.last_hash
        if card:
            self.points.spent(card, closed, lines)
        self.closed += 1
        if len(self.batch) >= BATCH:
            self.batch.flush()
            if self.progress:
                self.progress(self.closed)

    def finish(self, last_seen: str | None) -> None:
        """Write what is left, then each till's sequence (and when it was last seen, when given)."""
        self.batch.flush()
        self.batch.close()
        seen = ", last_seen = excluded.last_seen" if last_seen else ""
        with self.conn:
            self.conn.executemany(
                "INSERT INTO terminals (terminal, contiguous_seq, max_seq, last_seen) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(terminal) DO UPDATE SET contiguous_seq = excluded.contiguous_seq, "
                f"max_seq = excluded.max_seq{seen}",
                [(t, s, s, last_seen) for t, s in sorted(self.seqs.items())],
            )


class _Batch:
    """Rows for tickets, lines, ledger and received, inserted together with executemany by a writer thread."""

    def __init__(self, conn: Connection):
        self.conn = conn
        self.tickets, self.lines, self.ledger, self.received = [], [], [], []
        self.last_hash = GENESIS_HASH
        self.lines_written = 0
        self.queue: queue.Queue = queue.Queue(maxsize=2)
        self.writer: threading.Thread | None = None
        self.failure: Exception | None = None

    def __len__(self) -> int:
        return len(self.tickets)

    def add(self, t: Ticket, canonical: bytes) -> None:
        """The rows of a ticket as ingest stores it (server.ingest.store_rows), lines without their VAT rate."""
        digest = self.last_hash = hashlib.sha256(canonical).hexdigest()
        closed = t.closed_at.isoformat()
        payload = b'{"schema":1,"ticket":' + canonical + b"}"  # what sync.codec.encode_ticket gives
        self.tickets.append(ticket_row(t, digest, closed, payload))
        self.lines.extend(
            (t.id, n, li.gtin, li.label, li.category, li.quantity, li.unit_cents, li.discount_cents, li.total_cents)
            for n, li in enumerate(t.lines)
        )
        self.ledger.extend(ledger_rows(t))
        self.received.append((t.terminal, t.seq))

    def flush(self) -> None:
        """Hand the rows to the writer thread (SQLite's work overlaps the generation of the next batch)."""
        if not self.tickets:
            return
        self.lines_written += len(self.lines)
        self._start_writer()
        self.queue.put((self.tickets, self.lines, self.ledger, self.received))
        self.tickets, self.lines, self.ledger, self.received = [], [], [], []
        if self.failure:
            raise self.failure

    def close(self) -> None:
        """Wait until every batch is written; raise what the writer met, if anything."""
        if self.writer is not None:
            self.queue.put(None)
            self.writer.join()
            self.writer = None
        if self.failure:
            raise self.failure

    def _start_writer(self) -> None:
        if self.writer is None:
            self.writer = threading.Thread(target=self._write, name="generate-writer", daemon=True)
            self.writer.start()

    def _write(self) -> None:
        conn = self.conn
        while (rows := self.queue.get()) is not None:
            if self.failure:
                continue
            tickets, lines, ledger, received = rows
            try:
                with transaction(conn, immediate=False):
                    conn.executemany(
                        "INSERT INTO tickets (id, terminal, seq, store, cashier, closed_at, card, total_cents, "
                        "points_earned, points_redeemed, rules_version, hash, prev_hash, received_at, payload) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        tickets,
                    )
                    conn.executemany("INSERT INTO lines VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)", lines)
                    conn.executemany(
                        "INSERT INTO ledger (card, kind, points, rule, cause, ticket_id, at) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?)",
                        ledger,
                    )
                    conn.executemany("INSERT INTO received (terminal, seq, status) VALUES (?, ?, 'stored')", received)
            except Exception as exc:  # noqa: BLE001 - handed to the generating thread, which raises it
                self.failure = exc


def _write_customers(conn: Connection, rng: random.Random, customers: int, first_day: date) -> None:
    """A desk customer for most cards (with random consents); the other cards stay anonymous."""
    has_desk = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'customers'").fetchone()
    if not has_desk:
        return
    people, cards = [], []
    enrolled = first_day - timedelta(days=30)
    for n in range(1, customers + 1):
        if rng.random() >= REGISTERED_SHARE:
            continue
        at = (
            datetime.combine(enrolled, datetime.min.time(), timezone.utc) - timedelta(days=rng.randrange(3 * 365))
        ).isoformat()
        name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
        email, sms, profiling = (int(rng.random() < p) for p in (0.6, 0.3, 0.7))
        people.append(
            (
                n,
                name,
                f"customer{n}@example.org",
                f"+33 6 {n % 100_000_000:08d}",
                f"{rng.randrange(1, 96):02d}{rng.randrange(1000):03d}",
                email,
                at if email else None,
                sms,
                at if sms else None,
                profiling,
                at if profiling else None,
                at,
                at,
            )
        )
        cards.append((card_of(n), n, at, at))
    with conn:
        conn.executemany(
            "INSERT INTO customers (id, name, email, phone, postcode, consent_email, consent_email_at, "
            "consent_sms, consent_sms_at, consent_profiling, consent_profiling_at, created_at, "
            "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            people,
        )
        conn.executemany(
            "INSERT INTO cards (number, customer_id, status, issued_at, status_at) VALUES (?, ?, 'active', ?, ?)", cards
        )


CHECK_HOLDOUT = 300  # per mille: a large holdout, so a small generated set measures the uplift


def check_offer_types() -> list:
    """The offer types of the generated-data check: bonus points on each favourite category a customer may
    have, a cheque, a win-back offer."""
    from .offer_definitions import OfferType

    common = dict(days=7, holdout_per_mille=CHECK_HOLDOUT, min_run_days=7)
    return [
        *(
            OfferType(name=f"150 points on {c}", kind="category_points", category=c, points=150, **common)
            for c in TASTES
        ),
        OfferType(
            name="2 EUR cheque from 20 EUR", kind="basket_cheque", cheque_cents=200, min_basket_cents=2000, **common
        ),
        OfferType(name="we miss you: 200 points", kind="winback", points=200, **common),
    ]


def offer_check(conn: Connection, day: date, days: int = 7, seed: int = 0) -> dict:
    """The three-way check on generated data with hidden tastes: the eligible customers split in three arms;
    the model, chance and one segment-wide offer choose for one arm each on `day`; `days` days are played
    (respond); returns each policy's targets against its holdout (offer_results.by_policy), as JSON."""
    from . import next_offer, offer_results
    from . import offer_definitions
    from .aggregate import refresh

    refresh(conn)
    if not offer_definitions.offer_types(conn):
        for t in check_offer_types():
            offer_definitions.define(conn, t)
    made = next_offer.compare(conn, day)
    played = respond(conn, day, days, seed)
    refresh(conn)
    measured = offer_results.by_policy(conn, day + timedelta(days=days - 1))
    return {"day": day.isoformat(), "days": days, "campaigns": made, "played": played, "policies": measured}
