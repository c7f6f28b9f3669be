"""RFM scores (recency, frequency, monetary) in quintiles, and a lifetime value estimate.

Each score is 1..5, 5 the best. A customer's score on a measure is i*5//n + 1, where n is the
number of customers and i the number of customers strictly worse on that measure, so ties share
a score: recency is better when fewer days passed since the last visit, frequency is visits
(distinct days), monetary is spend.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass
from datetime import date, timedelta

from .value import CustomerValue

DISCOUNT_RATE = 0.10  # yearly, for the lifetime value
DEFAULT_RETENTION = 0.80  # when no earlier period exists to measure it


@dataclass(frozen=True)
class Rfm:
    r: int
    f: int
    m: int

    @property
    def code(self) -> str:
        return f"{self.r}{self.f}{self.m}"


def _scores(goodness: list[int]) -> list[int]:
    ordered = sorted(goodness)
    n = len(ordered)
    return [bisect_left(ordered, g) * 5 // n + 1 for g in goodness]


def rfm_scores(values: list[CustomerValue]) -> dict[str, Rfm]:
    """key -> Rfm for every customer of `values`."""
    if not values:
        return {}
    r = _scores([-v.recency_days for v in values])
    f = _scores([v.visits for v in values])
    m = _scores([v.spend_cents for v in values])
    return {v.key: Rfm(r[i], f[i], m[i]) for i, v in enumerate(values)}


def retention(current: list[CustomerValue], previous: list[CustomerValue]) -> float:
    """Share of the previous period's customers who came back in the current one."""
    if not previous:
        return DEFAULT_RETENTION
    now = {v.key for v in current}
    return sum(1 for v in previous if v.key in now) / len(previous)


def previous_period(start: date, end: date) -> tuple[date, date]:
    """The period of the same length just before [start, end]."""
    days = (end - start).days + 1
    return start - timedelta(days=days), start - timedelta(days=1)


def lifetime_value_cents(
    value: CustomerValue, start: date, end: date, retention_rate: float, discount_rate: float = DISCOUNT_RATE
) -> int:
    """LTV = m * r / (1 + d - r): m the yearly net value (margin minus points cost, scaled to a year),
    r the yearly retention rate, d the discount rate (the classic constant-retention formula)."""
    days = (end - start).days + 1
    yearly = value.net_cents * 365 / days
    return round(yearly * retention_rate / (1 + discount_rate - retention_rate))
