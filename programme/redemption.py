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
    note: str = ""  # shown to the cashier: why fewer points than asked, or ""


@dataclass(frozen=True)
class ChequeIssue:
    count: int
    points: int  # taken from the balance
    cents: int  # value of each cheque
    remainder: int  # points carried over


def payable_with_points(rules: RuleSet, lines, points_tendered_cents: int = 0) -> int:
    """What points may still pay on a basket: its lines outside [exclusions] redemption_categories (tobacco),
    less what points already pay."""
    refused = set(rules.exclusions.redemption_categories)
    return sum(line.total_cents for line in lines if line.category not in refused) - points_tendered_cents


def plan_tender(rules: RuleSet, asked: int, *, balance: int, due_cents: int, offline: bool = False,
                redeemed_today: int = 0, payable_cents: int | None = None) -> TenderPlan:
    """How many of `asked` points pay this ticket under `rules` (the version in force at the till).

    Fewer than asked when fewer pay what is due, or when the offline daily cap leaves less room: the
    note says why. Refused, with what is still possible, when none can be redeemed.
    `payable_cents` (payable_with_points): the most points may pay, what they may not pay for left out."""
    r = rules.redemption
    if asked <= 0:
        raise RedemptionError(f"redeem a positive number of points, not {asked}")
    if asked > balance:
        raise RedemptionError(
            f"not enough points: the card has {max(balance, 0)} and {asked} were asked; "
            f"redeem at most {max(balance, 0)}")
    if due_cents <= 0:
        raise RedemptionError("nothing is left to pay on this ticket: add articles before redeeming points")
    payable = due_cents if payable_cents is None else min(due_cents, payable_cents)
    if payable <= 0:
        refused = ", ".join(rules.exclusions.redemption_categories)
        raise RedemptionError(f"points cannot pay for {refused}: pay what is due with another tender")
    most_for_due = payable // r.cents_per_point
    if most_for_due == 0:
        raise RedemptionError(f"{format_cents(due_cents)} EUR is less than one point "
                              f"({format_cents(r.cents_per_point)} EUR): pay it with another tender")
    points, notes = asked, []
    if points > most_for_due:
        points = most_for_due
        if payable < due_cents:
            refused = ", ".join(rules.exclusions.redemption_categories)
            notes.append(f"points pay at most {format_cents(payable)} EUR: {refused} is paid with another tender")
        else:
            notes.append(f"only {points} points are needed to pay what is due")
    if offline:
        room = max(r.offline_daily_cap_points - redeemed_today, 0)
        if room == 0:
            raise RedemptionError(
                f"offline cap reached: a card may redeem at most {r.offline_daily_cap_points} points a day while "
                f"the till is offline, and {redeemed_today} were already redeemed today; try again once online")
        if points > room:
            points = room
            notes.append(f"offline cap: at most {r.offline_daily_cap_points} points a day per card while the "
                         f"till is offline ({redeemed_today} already today), so {points} points are redeemed")
    if points < r.min_points:
        raise RedemptionError(f"at least {r.min_points} points are redeemed at a time, {points} would be")
    return TenderPlan(points, points * r.cents_per_point, "; ".join(notes))


def check_offline_cap(rules: RuleSet, points: int, *, offline: bool, redeemed_today: int) -> None:
    """Refuse, with the reason, what would take a card past the offline daily cap (loyalty cheques)."""
    cap = rules.redemption.offline_daily_cap_points
    if not offline or redeemed_today + points <= cap:
        return
    raise RedemptionError(
        f"offline cap: a card may redeem at most {cap} points a day while the till is offline; "
        f"{redeemed_today} already today, {points} needed; issue it once the till is back online")


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
