"""Welch's t interval for a difference of means, with Student's t quantile computed here (no SciPy).

The quantile inverts the t distribution's CDF, written with the regularised incomplete beta
function (continued fraction, Numerical Recipes' betacf), by bisection: exact to about 1e-9.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


def _betacf(a: float, b: float, x: float) -> float:
    tiny, qab, qap, qam = 1e-300, a + b, a + 1, a - 1
    c, d = 1.0, 1 - qab * x / qap
    d = 1 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 300):
        m2 = 2 * m
        for aa in (m * (b - m) * x / ((qam + m2) * (a + m2)), -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))):
            d = 1 + aa * d
            d = 1 / (d if abs(d) > tiny else tiny)
            c = 1 + aa / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1) < 1e-15:
            break
    return h


def betainc(a: float, b: float, x: float) -> float:
    """The regularised incomplete beta function I_x(a, b)."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1) / (a + b + 2):
        return front * _betacf(a, b, x) / a
    return 1 - front * _betacf(b, a, 1 - x) / b


def t_cdf(t: float, df: float) -> float:
    tail = 0.5 * betainc(df / 2, 0.5, df / (df + t * t))
    return 1 - tail if t >= 0 else tail


def t_quantile(p: float, df: float) -> float:
    """The t with P(T <= t) = p for Student's t with `df` degrees of freedom (p in (0.5, 1))."""
    low, high = 0.0, 1e4
    for _ in range(200):
        mid = (low + high) / 2
        if t_cdf(mid, df) < p:
            low = mid
        else:
            high = mid
    return (low + high) / 2


@dataclass(frozen=True)
class Interval:
    difference: float
    low: float
    high: float
    df: float
    t: float
    standard_error: float


def welch_interval(target: list[int], control: list[int], confidence: float = 0.95) -> Interval | None:
    """mean(target) - mean(control) with Welch's interval; None with fewer than 2 in a group."""
    n1, n2 = len(target), len(control)
    if n1 < 2 or n2 < 2:
        return None
    m1, m2 = sum(target) / n1, sum(control) / n2
    v1 = sum((x - m1) ** 2 for x in target) / (n1 - 1)
    v2 = sum((x - m2) ** 2 for x in control) / (n2 - 1)
    a, b = v1 / n1, v2 / n2
    se = math.sqrt(a + b)
    diff = m1 - m2
    if se == 0:
        return Interval(diff, diff, diff, float(n1 + n2 - 2), 0.0, 0.0)
    df = (a + b) ** 2 / (a * a / (n1 - 1) + b * b / (n2 - 1))
    t = t_quantile(1 - (1 - confidence) / 2, df)
    return Interval(diff, diff - t * se, diff + t * se, df, t, se)
