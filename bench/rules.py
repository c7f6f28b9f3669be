"""Points for a 60-line basket under rules with 50 active promotions and 1,000 targeted offers.

Baselines, measured in the same run on the same baskets: the walking skeleton's base-rate
earning (one pass summing eligible cents, then // 100), and the engine under the shipped default
rules (base rate and exclusions only). Also measured: the server's check of one ticket
(recompute and compare), and parsing the rules file once.
"""

from __future__ import annotations

import gc
import os
import random
import sys
import time
from datetime import datetime, timezone

from programme.engine import Context, points_of
from programme.points import default_rules
from programme.rules import parse_rules
from programme.ticket import Tender, Ticket, make_line
from server.ingest.rules_check import RulesCatalog, check_ticket
from terminal.simulate import CATEGORIES, Shopper

from .common import summary_ms, table

LINES = 60
PROMOTIONS = 50
OFFERS = 1000
AT = datetime(2026, 11, 28, 11, 30, tzinfo=timezone.utc)  # a Saturday in the promotions' range


def bench_rules_text(shopper: Shopper, cards: list[str], rng: random.Random) -> str:
    """A rules file of the size the issue names, every promotion active on AT."""
    articles = [a.gtin for a in shopper.articles]
    categories = [name for name, _, _ in CATEGORIES if name not in ("tobacco", "fuel", "gift_card", "deposit")]
    out = [
        'version = "bench-1"',
        "effective_from = 2026-11-01T00:00:00Z",
        'timezone = "Europe/Paris"',
        "[exclusions]",
        'categories = ["tobacco", "fuel", "gift_card", "deposit"]',
    ]
    for n, category in enumerate(categories[:6]):
        out += ["[[multipliers]]", f'category = "{category}"', f"percent = {150 + 10 * n}"]
    for gtin in rng.sample(articles, 40):
        out += ["[[multipliers]]", f'article = "{gtin}"', "percent = 300"]
    for gtin in rng.sample(articles, 40):
        out += ["[[bonuses]]", f'article = "{gtin}"', "points = 10"]
    # The mix of a hypermarket's week: mostly article promotions, a few category ones, basket bonuses.
    for n in range(PROMOTIONS):
        out += ["[[promotions]]", f'id = "promo-{n}"', "start = 2026-11-20", "end = 2026-12-06"]
        if n % 5 == 0:
            out += ['weekdays = ["sat", "sun"]']
        if n % 10 == 9:
            out += [f"basket_min_cents = {2000 * n}", "basket_points = 25"]
        elif n % 10 == 4:
            out += [f'categories = ["{categories[n % len(categories)]}"]', "percent = 200"]
        else:
            effect = "points_per_unit = 3" if n % 2 else "percent = 300"
            out += [f"articles = {[*rng.sample(articles, 20)]}".replace("'", '"'), effect]
    for n in range(OFFERS):
        out += ["[[offers]]", f'id = "offer-{n}"']
        out += [f'segment = "segment-{n % 20}"'] if n % 10 == 0 else [f'cards = ["{cards[n % len(cards)]}"]']
        out += [f"articles = {[*rng.sample(articles, 5)]}".replace("'", '"'), "percent = 400"]
    out += [
        "[[tiers]]",
        'name = "silver"',
        "min_spend_cents = 150000",
        "percent = 110",
        "[[tiers]]",
        'name = "gold"',
        "min_spend_cents = 400000",
        "percent = 125",
    ]
    return "\n".join(out) + "\n"


def skeleton_earn(lines, card) -> int:
    """The walking skeleton's rule: whole euros of eligible spend, rounded down over the ticket."""
    if card is None:
        return 0
    excluded = {"tobacco", "fuel", "gift_card", "deposit"}
    return max(sum(li.total_cents for li in lines if li.category not in excluded), 0) // 100


def _time(fn, baskets, samples: int) -> tuple[list[float], list[float]]:
    """Wall and CPU time of each call: on a shared machine the CPU time shows the engine without the waits."""
    gc.collect()  # start each series from the same heap; collections during it are part of the cost
    wall, cpu = [], []
    for n in range(samples):
        lines, ctx = baskets[n % len(baskets)]
        started, started_cpu = time.perf_counter(), time.thread_time()
        fn(lines, ctx)
        cpu.append(time.thread_time() - started_cpu)
        wall.append(time.perf_counter() - started)
    return wall, cpu


def _summary(times: tuple[list[float], list[float]]) -> dict:
    wall, cpu = summary_ms(times[0]), summary_ms(times[1])
    return {**wall, "cpu_p50_ms": cpu["p50_ms"], "cpu_p99_ms": cpu["p99_ms"]}


def run(quick: bool = False) -> dict:
    rng = random.Random(7)
    shopper = Shopper(seed=7)
    cards = [c for c in shopper.cards[:300]]
    started = time.perf_counter()
    text = bench_rules_text(shopper, cards, rng)
    rules = parse_rules(text, "bench rules")
    parse_ms = round((time.perf_counter() - started) * 1000, 1)
    baskets = []
    for n in range(50):
        articles = rng.sample(shopper.articles, LINES)
        lines = [make_line(a.gtin, rng.choice((1, 1, 1, 2, 3)), a.unit_cents, a.category, a.label) for a in articles]
        ctx = Context(
            card=cards[n % 30],
            at=AT,
            store="S001",
            tier=rng.choice([None, "silver", "gold"]),
            segments=frozenset({f"segment-{n % 20}"}),
        )
        baskets.append((lines, ctx))
    samples = 2000 if quick else 20_000
    default = default_rules()
    for lines, ctx in baskets:  # warm the compiled lookups of both rule sets
        points_of(rules, lines, ctx)
        points_of(default, lines, ctx)
    engine = _time(lambda lines, ctx: points_of(rules, lines, ctx), baskets, samples)
    base_engine = _time(lambda lines, ctx: points_of(default, lines, ctx), baskets, samples)
    skeleton = _time(lambda lines, ctx: skeleton_earn(lines, ctx.card), baskets, samples)
    catalog = RulesCatalog([rules])
    tickets = []
    for n, (lines, ctx) in enumerate(baskets, start=1):
        total = sum(li.total_cents for li in lines)
        tickets.append(
            (
                Ticket(
                    id=f"S001-T01-{n:08d}",
                    terminal="S001-T01",
                    seq=n,
                    store="S001",
                    cashier="b",
                    opened_at=AT,
                    closed_at=AT,
                    lines=lines,
                    tenders=[Tender("cash", total)],
                    total_cents=total,
                    card=ctx.card,
                    points=points_of(rules, lines, ctx),
                    rules_version=rules.version,
                ),
                None,
            )
        )
    check = _time(lambda ticket, _: check_ticket(catalog, ticket), tickets, samples // 2)
    fired = {}
    for lines, ctx in baskets:
        for entry in points_of(rules, lines, ctx):
            kind = entry.rule.split(":")[0]
            fired[kind] = fired.get(kind, 0) + 1
    return {
        "lines": LINES,
        "promotions": PROMOTIONS,
        "offers": OFFERS,
        "samples": samples,
        "engine": _summary(engine),
        "engine_default_rules": _summary(base_engine),
        "skeleton_base_rate": _summary(skeleton),
        "server_check": _summary(check),
        "load_average": round(os.getloadavg()[0], 1),
        "parse_rules_ms": parse_ms,
        "rules_file_kb": round(len(text) / 1024, 1),
        "entries_per_basket": round(sum(fired.values()) / len(baskets), 1),
        "rules_fired": fired,
    }


def markdown(result: dict) -> str:
    rows = [
        ("engine: bench rules, points entries per line and rule (target p99 <= 1 ms)", result["engine"]),
        ("engine: shipped default rules (base rate, exclusions) - baseline", result["engine_default_rules"]),
        ("walking skeleton's base-rate sum // 100 - baseline", result["skeleton_base_rate"]),
        ("server check of one ticket: recompute + compare", result["server_check"]),
    ]
    return (
        f"## Rules engine: points for a {result['lines']}-line basket, {result['promotions']} active promotions, "
        f"{result['offers']:,} targeted offers\n\n"
        + table(
            [(name, r["p50_ms"], r["p99_ms"], r["cpu_p50_ms"], r["cpu_p99_ms"], r["n"]) for name, r in rows],
            ("measure", "p50 ms", "p99 ms", "CPU p50 ms", "CPU p99 ms", "n"),
        )
        + f"\n\nWall time includes waiting for the CPU (load average "
        f"{result['load_average']} on this machine during "
        "the run); CPU time is the thread's own. Promotions: 40 on 20 articles each, 5 on a category, 5 basket "
        "bonuses; offers: 900 for single cards, 100 for segments; 46 multipliers, 40 article bonuses. "
        f"Rules file {result['rules_file_kb']} KB, parsed and checked once in {result['parse_rules_ms']} ms. "
        f"{result['entries_per_basket']} points entries per basket on average; rules that gave points: "
        + ", ".join(f"{k} {v}" for k, v in sorted(result["rules_fired"].items()))
        + ".\n"
    )


if __name__ == "__main__":
    print(markdown(run("--quick" in sys.argv)))
