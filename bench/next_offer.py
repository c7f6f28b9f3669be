"""The next best offer on generated customers with hidden tastes (issue 18): the chooser against a random
choice of offers and against one segment-wide offer, same run, same data.

`loyalty generate --hidden-tastes`' library makes a year of tickets where customers have a favourite
category, a taste for promotions or are drifting away (nothing names it: only their tickets show it). The
eligible customers are split in three arms by hash; the model, chance and the one offer type best for the
whole arm choose for one arm each; seven days are played, where an offer brings an extra visit only when it
fits the customer's hidden trait (server/analytics/generate.py, TRUE_RESPONSE); each arm's targets are
measured against its own holdout (net margin per customer, Welch's 95% interval). Several seeds, so one lucky
draw does not decide. Default 4,000 customers / 80,000 tickets, 3 seeds; --quick 2,000 / 40,000, 1 seed.
"""

from __future__ import annotations

import tempfile
import time
from datetime import date
from pathlib import Path

from .common import table

END = date(2026, 6, 30)


def one(customers: int, tickets: int, seed: int) -> dict:
    from server.analytics.generate import Plan, generate, offer_check
    from server.storage.desk_db import open_db

    with tempfile.TemporaryDirectory() as tmp:
        conn = open_db(Path(tmp) / "server.db")
        conn.row_factory = None
        conn.execute("PRAGMA synchronous=OFF")
        started = time.perf_counter()
        generate(conn, Plan(customers, tickets, 5, seed=seed, end=END, hidden_tastes=True))
        generated = time.perf_counter() - started
        started = time.perf_counter()
        result = offer_check(conn, date(2026, 7, 1), days=7, seed=seed)
        result["check_s"] = round(time.perf_counter() - started, 1)
        result["generate_s"] = round(generated, 1)
        conn.close()
    return result


def run(quick: bool = False) -> dict:
    customers, tickets, seeds = (2_000, 40_000, [1]) if quick else (4_000, 80_000, [1, 2, 3])
    runs = [one(customers, tickets, seed) for seed in seeds]
    return {
        "customers": customers,
        "tickets": tickets,
        "runs": [
            {
                "seed": seed,
                "generate_s": r["generate_s"],
                "check_s": r["check_s"],
                "played": r["played"],
                "policies": r["policies"],
            }
            for seed, r in zip(seeds, runs)
        ],
    }


def _eur(cents: float) -> str:
    return f"{cents / 100:+.2f}"


def markdown(r: dict) -> str:
    rows = []
    for run in r["runs"]:
        for policy, p in run["policies"].items():
            i = p["interval"]
            rows.append(
                (
                    run["seed"],
                    policy,
                    p["targets"],
                    p["holdouts"],
                    _eur(p["uplift_cents"]),
                    f"{_eur(i['low'])} to {_eur(i['high'])}" if i else "n/a",
                )
            )
    wins = sum(
        1
        for run in r["runs"]
        if run["policies"]["model"]["uplift_cents"]
        > max(run["policies"]["random"]["uplift_cents"], run["policies"]["segment"]["uplift_cents"])
    )
    return (
        f"## next_offer\n\nThe next best offer on {r['customers']:,} generated customers with hidden tastes and "
        f"{r['tickets']:,} tickets, per seed: each arm's net margin per customer against its holdout over "
        f"the offers' 7 days (EUR, Welch's 95% interval). The model beat both baselines in {wins} of "
        f"{len(r['runs'])} run(s).\n\n"
        + table(rows, ("seed", "policy", "targets", "held out", "uplift per customer", "95% interval"))
        + "\n"
    )


if __name__ == "__main__":
    import sys

    print(markdown(run(quick="--quick" in sys.argv)))
