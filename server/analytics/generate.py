"""Realistic generated head-office data, written straight into the store's tables in large batches.

Skewed spending (a customer's visit rate and basket size are log-normal, so a minority makes most
sales), stores of different sizes, seasonal months (December high, August low), weekly (Saturday
about 22%) and daily peaks (12-13h, 19-20h), categories with their own prices. Tickets are real:
the payload is the message a till sends, hashes chain per till, points are the base rule's.

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
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

import msgspec

from programme.cardnumber import make_card_number
from programme.ledger import ticket_cause
from programme.ticket import GENESIS_HASH, Line, PointsEntry, Tender, Ticket

from ..errors import ServerError
from server.storage.connection import Connection, transaction

TILLS_PER_STORE = 6
BATCH = 20_000
IDENTIFIED_SHARE = 0.75  # tickets with a card
REGISTERED_SHARE = 0.85  # cards with a customer at the desk
EXCLUDED = frozenset({"tobacco", "fuel", "gift_card", "deposit"})  # earn no points (the default rules)
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
    end = plan.end or (datetime.now(timezone.utc).date() - timedelta(days=1))
    days = [end - timedelta(days=364 - n) for n in range(365)]
    stores = [f"S{n:03d}" for n in range(1, plan.stores + 1)]
    store_weight = [rng.lognormvariate(0, 0.5) for _ in stores]
    articles = []
    for n in range(3000):
        name, _, (low, high) = rng.choices(CATEGORIES, [c[1] for c in CATEGORIES])[0]
        articles.append((make_card_number(f"3{n:011d}"), f"{name} {n}", name, rng.randint(low, high)))
    # a customer: (card, home store index, visit weight, basket factor)
    visit = [rng.lognormvariate(0, 1.0) for _ in range(plan.customers)]
    basket = [rng.lognormvariate(0, 0.4) for _ in range(plan.customers)]
    home = rng.choices(range(len(stores)), store_weight, k=plan.customers)
    cards = [card_of(n + 1) for n in range(plan.customers)]
    cum_visit, acc = [], 0.0
    for w in visit:
        acc += w
        cum_visit.append(acc)
    _write_customers(conn, rng, plan.customers, days[0])
    tastes = (
        _draw_tastes(conn, random.Random(plan.seed + 1), plan, cards, visit, basket, home, stores)
        if plan.hidden_tastes
        else None
    )
    by_category: dict[str, list] = {}
    for article in articles:
        by_category.setdefault(article[2], []).append(article)
    lapse_from = (end - timedelta(days=LAPSE_DAYS - 1)).isoformat()
    per_day = _allocate(plan.tickets, [MONTH_WEIGHT[d.month - 1] * WEEKDAY_WEIGHT[d.weekday()] for d in days])
    hours, hour_w = list(HOUR_WEIGHT), list(HOUR_WEIGHT.values())
    seqs: dict[str, int] = {}
    last_hash: dict[str, str] = {}
    balance: dict[str, int] = {}
    batch = _Batch(conn)
    written = 0
    for day, count in zip(days, per_day):
        if not count:
            continue
        who = rng.choices(range(plan.customers), cum_weights=cum_visit, k=count) if plan.customers else [None] * count
        secs = sorted(rng.choices(hours, hour_w, k=count))
        base = datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
        times = sorted(base + timedelta(hours=h, seconds=rng.randrange(3600)) for h in secs)
        for closed, customer in zip(times, who):
            if customer is None or rng.random() >= IDENTIFIED_SHARE:
                card, factor = None, 1.0
                store = rng.choices(range(len(stores)), store_weight)[0]
            else:
                card, factor = cards[customer], basket[customer]
                if tastes is not None and tastes[customer][2] and day.isoformat() >= lapse_from:
                    continue  # drifting away: no visit at the end of the year
                store = home[customer] if rng.random() < 0.9 else rng.randrange(len(stores))
            terminal = f"{stores[store]}-T{rng.randint(1, TILLS_PER_STORE):02d}"
            size = min(60, max(1, int(rng.expovariate(1 / 9) * factor) + 1))
            if tastes is None:
                lines, eligible = _lines(rng, rng.choices(articles, k=size))
            else:
                taste, watcher, _ = tastes[customer] if card else ("", False, False)
                lines, eligible = _taste_lines(rng, articles, by_category, size, taste, watcher)
            seq = seqs[terminal] = seqs.get(terminal, 0) + 1
            total = sum([li.total_cents for li in lines])
            points, tenders = [], [Tender("bank_card" if total > 2000 else "cash", total)]
            if card:
                earned = eligible // 100
                if earned:
                    points.append(PointsEntry("earn", "base: 1 point per euro", earned))
                held = balance.get(card, 0) + earned
                if held >= 1500 and rng.random() < 0.1 and total > 500:
                    points.append(PointsEntry("redeem", "points tender", 500))
                    tenders = [Tender("points", 500), Tender(tenders[0].kind, total - 500)]
                    held -= 500
                balance[card] = held
            ticket = Ticket(
                f"{terminal}-{seq:08d}",
                terminal,
                seq,
                stores[store],
                f"c{rng.randint(1, 40):02d}",
                closed - timedelta(seconds=30 + 10 * size),
                closed,
                lines,
                tenders,
                total,
                card,
                points,
                "base-1",
                last_hash.get(terminal, GENESIS_HASH),
            )
            batch.add(ticket, _encode(ticket))
            last_hash[terminal] = batch.last_hash
            written += 1
            if len(batch) >= BATCH:
                batch.flush()
                if progress:
                    progress(written)
    batch.flush()
    batch.close()
    if progress:
        progress(written)
    seen = datetime.combine(end, datetime.max.time(), timezone.utc).replace(microsecond=0).isoformat()
    with conn:
        conn.executemany(
            "INSERT INTO terminals (terminal, contiguous_seq, max_seq, last_seen) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(terminal) DO UPDATE SET contiguous_seq = excluded.contiguous_seq, "
            "max_seq = excluded.max_seq, last_seen = excluded.last_seen",
            [(t, s, s, seen) for t, s in sorted(seqs.items())],
        )
    return {
        "customers": plan.customers,
        "tickets": written,
        "stores": plan.stores,
        "terminals": len(seqs),
        "lines": batch.lines_written,
        "first_day": days[0].isoformat(),
        "last_day": end.isoformat(),
    }


def _lines(rng: random.Random, picked: list, discounted: float = 0.0) -> tuple[list[Line], int]:
    """Lines of these articles (quantities 1 to 4; a share `discounted` of them 10% off) and their eligible spend."""
    lines, eligible = [], 0
    random_ = rng.random
    for gtin, label, category, unit in picked:
        r = random_()
        quantity = 1 if r < 0.8 else 2 + int((r - 0.8) * 15)  # 2..4
        discount = quantity * unit // 10 if discounted and random_() < discounted else 0
        total = quantity * unit - discount
        lines.append(Line(gtin, label, category, quantity, unit, discount, total))
        if category not in EXCLUDED:
            eligible += total
    return lines, eligible


def _taste_lines(
    rng: random.Random,
    articles: list,
    by_category: dict,
    size: int,
    taste: str,
    watcher: bool,
    favourite_share: float = FAVOURITE_LINES,
) -> tuple[list[Line], int]:
    picked = [
        rng.choice(by_category[taste]) if taste and rng.random() < favourite_share else rng.choice(articles)
        for _ in range(size)
    ]
    return _lines(rng, picked, DISCOUNTED[1] if watcher else DISCOUNTED[0])


def _draw_tastes(
    conn,
    rng: random.Random,
    plan: Plan,
    cards: list[str],
    visit: list[float],
    basket: list[float],
    home: list[int],
    stores: list[str],
) -> list[tuple[str, bool, bool]]:
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
                (cards[n], t, int(w), int(lapse), visit[n], basket[n], stores[home[n]])
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
    from the offer's category for bonus points on a category; the first ticket of a target card in an offer's
    days carries the offer's entry, as a till would write it. Holdout and other customers get no offer.
    Tickets chain on from the tills' last; run the aggregates after. Returns counts."""
    rng = random.Random(seed)
    traits = {
        card: (taste, bool(w), bool(lapse), visit, factor, store)
        for card, taste, w, lapse, visit, factor, store in conn.execute("SELECT * FROM generated_tastes ORDER BY card")
    }
    if not traits:
        raise ServerError("no generated customers with hidden tastes: generate with --hidden-tastes first")
    articles = [
        (gtin, label, category, unit)
        for gtin, label, category, unit in conn.execute(
            "SELECT gtin, min(label), min(category), min(unit_cents) FROM lines GROUP BY gtin ORDER BY gtin"
        )
    ]
    by_category: dict[str, list] = {}
    for article in articles:
        by_category.setdefault(article[2], []).append(article)
    total_weight = sum(t[3] for t in traits.values())
    card_tickets = conn.execute("SELECT count(*) FROM tickets WHERE card IS NOT NULL").fetchone()[0]
    first_day = conn.execute("SELECT min(substr(closed_at, 1, 10)) FROM tickets").fetchone()[0]
    span = (start - date.fromisoformat(first_day)).days or 1
    offers: dict[str, tuple] = {}  # card -> (campaign id, kind, points, starts, ends, offer type kind, category)
    for card, campaign, kind, points, starts, ends, type_kind, category in conn.execute(
        "SELECT m.card, c.id, c.kind, c.points, c.starts, c.ends, t.kind, t.category FROM nbo_choices n "
        "JOIN campaigns c ON c.id = n.campaign_id JOIN nbo_offer_types t ON t.id = n.offer_type_id "
        "JOIN campaign_members m ON m.campaign_id = c.id AND m.customer = n.customer AND m.grp = 'target' "
        "WHERE c.ends >= ? AND c.starts <= ?",
        (start.isoformat(), (start + timedelta(days=days - 1)).isoformat()),
    ):
        offers[card] = (campaign, kind, points, starts, ends, type_kind, category)
    seqs = dict(conn.execute("SELECT terminal, max_seq FROM terminals"))
    last_hash = dict(
        conn.execute(
            "SELECT t.terminal, t.hash FROM tickets t JOIN terminals m ON m.terminal = t.terminal AND m.max_seq = t.seq"
        )
    )
    visits: list[tuple[datetime, str, bool]] = []
    window = [start + timedelta(days=n) for n in range(days)]
    for card, (taste, watcher, lapsing, weight, factor, store) in traits.items():
        rate = 0.0 if lapsing else card_tickets * weight / total_weight / span
        for day in window:
            if rng.random() < rate:
                visits.append((_moment(rng, day), card, False))
        offer = offers.get(card)
        if offer is not None:
            in_days = [d for d in window if offer[3] <= d.isoformat() <= offer[4]]
            if in_days and rng.random() < true_response(offer[5], offer[6], taste, watcher, lapsing):
                visits.append((_moment(rng, rng.choice(in_days)), card, True))
    visits.sort()
    batch = _Batch(conn)
    used: set[str] = set()
    for closed, card, responded in visits:
        taste, watcher, _lapsing, _weight, factor, store = traits[card]
        offer = offers.get(card)
        terminal = f"{store}-T{rng.randint(1, TILLS_PER_STORE):02d}"
        size = min(60, max(1, int(rng.expovariate(1 / 9) * factor) + 1))
        favourite = offer[6] if responded and offer and offer[5] == "category_points" else taste
        lines, eligible = _taste_lines(
            rng,
            articles,
            by_category,
            size,
            favourite,
            watcher,
            0.5 if responded and favourite != taste else FAVOURITE_LINES,
        )
        total = sum(li.total_cents for li in lines)
        points = [PointsEntry("earn", "base: 1 point per euro", eligible // 100)] if eligible >= 100 else []
        day = closed.date().isoformat()
        if offer is not None and card not in used and offer[3] <= day <= offer[4]:
            used.add(card)
            points.append(PointsEntry("earn", f"offer:{offer[0]}", offer[2] if offer[1] == "bonus_points" else 0))
        seq = seqs[terminal] = seqs.get(terminal, 0) + 1
        ticket = Ticket(
            f"{terminal}-{seq:08d}",
            terminal,
            seq,
            store,
            "c01",
            closed - timedelta(seconds=60),
            closed,
            lines,
            [Tender("bank_card", total)],
            total,
            card,
            points,
            "base-1",
            last_hash.get(terminal, GENESIS_HASH),
        )
        batch.add(ticket, _encode(ticket))
        last_hash[terminal] = batch.last_hash
    batch.flush()
    batch.close()
    with conn:
        conn.executemany(
            "INSERT INTO terminals (terminal, contiguous_seq, max_seq, last_seen) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(terminal) DO UPDATE SET contiguous_seq = excluded.contiguous_seq, "
            "max_seq = excluded.max_seq",
            [(t, s, s, None) for t, s in sorted(seqs.items())],
        )
    return {"tickets": len(visits), "responded": sum(1 for v in visits if v[2]), "offers_used": len(used)}


def _moment(rng: random.Random, day: date) -> datetime:
    hour = rng.choices(list(HOUR_WEIGHT), list(HOUR_WEIGHT.values()))[0]
    return datetime(day.year, day.month, day.day, hour, rng.randrange(60), rng.randrange(60), tzinfo=timezone.utc)


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
        digest = self.last_hash = hashlib.sha256(canonical).hexdigest()
        closed = t.closed_at.isoformat()
        payload = b'{"schema":1,"ticket":' + canonical + b"}"  # what sync.codec.encode_ticket gives
        earned = sum(e.points for e in t.points if e.kind == "earn")
        redeemed = sum(e.points for e in t.points if e.kind == "redeem")
        self.tickets.append(
            (
                t.id,
                t.terminal,
                t.seq,
                t.store,
                t.cashier,
                closed,
                t.card,
                t.total_cents,
                earned,
                redeemed,
                t.rules_version,
                digest,
                t.prev_hash,
                closed,
                payload,
            )
        )
        self.lines.extend(
            (t.id, n, li.gtin, li.label, li.category, li.quantity, li.unit_cents, li.discount_cents, li.total_cents)
            for n, li in enumerate(t.lines)
        )
        self.ledger.extend(
            (t.card, e.kind, e.points if e.kind == "earn" else -e.points, e.rule, ticket_cause(t.id, n), t.id, closed)
            for n, e in enumerate(t.points)
        )
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
        OfferType(name="2 EUR cheque", kind="basket_cheque", cheque_cents=200, **common),
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
