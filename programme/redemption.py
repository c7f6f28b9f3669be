"""Redemption: points as a tender (a point is worth `cents_per_point`) and loyalty cheques.

Refusals say what is short and what is still possible: the balance, the minimum, or the offline
daily cap (a till that cannot reach head office only knows the last balance it was told).
"""
from __future__ import annotations

from dataclasses import dataclass

from .errors import RedemptionError
from .money import format_cents
from .rules import RuleSet


@dataclass(frozen=True)
class TenderPlan:
    points: int
    cents: int


@dataclass(frozen=True)
class ChequeIssue:
    count: int
    points: int  # taken from the balance
    cents: int  # value of each cheque
    remainder: int  # points carried over


def redeem_as_tender(rules: RuleSet, balance: int, cents: int, *, offline: bool = False,
                     redeemed_today: int = 0) -> TenderPlan:
    """Pay `cents` with points; never more cents than asked (a fraction of a point is not redeemed)."""
    value = rules.redemption.cents_per_point
    points = cents // value
    if points <= 0:
        raise RedemptionError(f"{format_cents(cents)} EUR is less than one point ({format_cents(value)} EUR): "
                              "pay it with another tender")
    if points < rules.redemption.min_points:
        raise RedemptionError(f"at least {rules.redemption.min_points} points are redeemed at a time, "
                              f"{points} were asked")
    if points > balance:
        raise RedemptionError(f"not enough points: the card has {max(balance, 0)}, {points} are needed for "
                              f"{format_cents(points * value)} EUR")
    if offline:
        cap = rules.redemption.offline_daily_cap_points
        left = max(cap - redeemed_today, 0)
        if points > left:
            raise RedemptionError(f"offline redemption is capped at {cap} points a day per card; "
                                  f"{redeemed_today} already redeemed today, so at most {left} now")
    return TenderPlan(points, points * value)


def issue_cheques(rules: RuleSet, balance: int) -> ChequeIssue:
    """As many cheques as the balance allows; the remainder is carried over."""
    cheques = rules.cheques
    if cheques is None:
        raise RedemptionError(f"rules {rules.version} issue no loyalty cheques")
    count = max(balance, 0) // cheques.threshold_points
    if count == 0:
        raise RedemptionError(f"the card has {balance} points; a loyalty cheque needs {cheques.threshold_points}")
    points = count * cheques.threshold_points
    return ChequeIssue(count, points, cheques.cheque_cents, balance - points)
