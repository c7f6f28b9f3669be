"""Redemption: points as a tender (a point is worth `cents_per_point`) and loyalty cheques.

Refusals say what is short and what is still possible: the balance, the minimum, or the offline
daily cap (a till that cannot reach head office only knows the last balance it was told).
"""
from __future__ import annotations

from dataclasses import dataclass

from .errors import RedemptionError
from .i18n import _, format_money
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
        raise RedemptionError(_("redeem a positive number of points, not {points}").format(points=asked))
    if asked > balance:
        raise RedemptionError(
            _("not enough points: the card has {balance} and {asked} were asked; redeem at most {balance}").format(
                balance=max(balance, 0), asked=asked))
    if due_cents <= 0:
        raise RedemptionError(_("nothing is left to pay on this ticket: add articles before redeeming points"))
    payable = due_cents if payable_cents is None else min(due_cents, payable_cents)
    if payable <= 0:
        refused = ", ".join(rules.exclusions.redemption_categories)
        raise RedemptionError(_("points cannot pay for {refused}: pay what is due with another tender").format(
            refused=refused))
    most_for_due = payable // r.cents_per_point
    if most_for_due == 0:
        raise RedemptionError(_("{due} is less than one point ({point}): pay it with another tender").format(
            due=format_money(due_cents), point=format_money(r.cents_per_point)))
    points, notes = asked, []
    if points > most_for_due:
        points = most_for_due
        if payable < due_cents:
            refused = ", ".join(rules.exclusions.redemption_categories)
            notes.append(_("points pay at most {amount}: {refused} is paid with another tender").format(
                amount=format_money(payable), refused=refused))
        else:
            notes.append(_("only {points} points are needed to pay what is due").format(points=points))
    if offline:
        room = max(r.offline_daily_cap_points - redeemed_today, 0)
        if room == 0:
            raise RedemptionError(
                _("offline cap reached: a card may redeem at most {cap} points a day while the till is offline, "
                  "and {today} were already redeemed today; try again once online").format(
                    cap=r.offline_daily_cap_points, today=redeemed_today))
        if points > room:
            points = room
            notes.append(_("offline cap: at most {cap} points a day per card while the till is offline ({today} "
                           "already today), so {points} points are redeemed").format(
                cap=r.offline_daily_cap_points, today=redeemed_today, points=points))
    if points < r.min_points:
        raise RedemptionError(_("at least {least} points are redeemed at a time, {points} would be").format(
            least=r.min_points, points=points))
    return TenderPlan(points, points * r.cents_per_point, "; ".join(notes))


def check_offline_cap(rules: RuleSet, points: int, *, offline: bool, redeemed_today: int) -> None:
    """Refuse, with the reason, what would take a card past the offline daily cap (loyalty cheques)."""
    cap = rules.redemption.offline_daily_cap_points
    if not offline or redeemed_today + points <= cap:
        return
    raise RedemptionError(
        _("offline cap: a card may redeem at most {cap} points a day while the till is offline; {today} already "
          "today, {points} needed; issue it once the till is back online").format(
            cap=cap, today=redeemed_today, points=points))


def issue_cheques(rules: RuleSet, balance: int) -> ChequeIssue:
    """As many cheques as the balance allows; the remainder is carried over."""
    cheques = rules.cheques
    if cheques is None:
        raise RedemptionError(_("rules {version} issue no loyalty cheques").format(version=rules.version))
    count = max(balance, 0) // cheques.threshold_points
    if count == 0:
        raise RedemptionError(_("the card has {balance} points; a loyalty cheque needs {threshold}").format(
            balance=balance, threshold=cheques.threshold_points))
    points = count * cheques.threshold_points
    return ChequeIssue(count, points, cheques.cheque_cents, balance - points)
