"""Redeeming points as a tender: what a point is worth and the offline cap, in one place.

Both come from the shipped rules' [redemption] section (programme/default_rules.toml); they are
module constants so tests can patch them. Offline, the till cannot know what the card spent
elsewhere today, so it caps redemption per card and per day; the server flags any overdraft
when tickets arrive.
"""
from __future__ import annotations

from dataclasses import dataclass

from programme.points import default_rules

from .errors import RedeemError

POINT_VALUE_CENTS = default_rules().redemption.cents_per_point  # what one point pays, in cents
OFFLINE_DAILY_CAP_POINTS = default_rules().redemption.offline_daily_cap_points  # per card, per day, offline


@dataclass(frozen=True)
class Redemption:
    points: int
    cents: int
    note: str  # shown to the cashier: why fewer points than asked, or ""


def points_to_cents(points: int) -> int:
    return points * POINT_VALUE_CENTS


def plan_redemption(asked: int, *, balance: int, due_cents: int, confirmed: bool,
                    redeemed_today: int) -> Redemption:
    """How many of `asked` points may pay this ticket; raises RedeemError with the reason when none."""
    if asked <= 0:
        raise RedeemError(f"redeem a positive number of points, not {asked}")
    if asked > balance:
        raise RedeemError(
            f"not enough points: the card has {balance} and {asked} were asked; redeem at most {max(balance, 0)}")
    if due_cents <= 0:
        raise RedeemError("nothing is left to pay on this ticket: add articles before redeeming points")
    points, notes = asked, []
    most_for_due = due_cents // POINT_VALUE_CENTS
    if points > most_for_due:
        points = most_for_due
        notes.append(f"only {points} points are needed to pay what is due")
    if not confirmed:
        room = max(OFFLINE_DAILY_CAP_POINTS - redeemed_today, 0)
        if room == 0:
            raise RedeemError(
                f"offline cap reached: a card may redeem at most {OFFLINE_DAILY_CAP_POINTS} points a day while "
                f"the till is offline, and {redeemed_today} were already redeemed today; try again once online")
        if points > room:
            points = room
            notes.append(f"offline cap: at most {OFFLINE_DAILY_CAP_POINTS} points a day per card while the "
                         f"till is offline ({redeemed_today} already today), so {points} points are redeemed")
    return Redemption(points, points_to_cents(points), "; ".join(notes))


def check_offline_cap(points: int, *, confirmed: bool, redeemed_today: int) -> None:
    """Refuse, with the reason, what would take a card past the offline daily cap."""
    if confirmed or redeemed_today + points <= OFFLINE_DAILY_CAP_POINTS:
        return
    raise RedeemError(
        f"offline cap: a card may redeem at most {OFFLINE_DAILY_CAP_POINTS} points a day while the till is "
        f"offline; {redeemed_today} already today, {points} needed; issue it once the till is back online")
