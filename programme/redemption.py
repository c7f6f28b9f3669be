"""Redemption: points as a tender (a point is worth `cents_per_point`) and loyalty cheques.

Refusals say what is short and what is still possible: the balance, the minimum, or the offline
daily cap (a till that cannot reach head office only knows the last balance it was told).
Loyalty cheques have serials with a check digit (`cheque_serial`, `read_cheque_serial`), a validity
and an offline cap; their lifecycle at head office is server/desk/cheque_book.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from .cardnumber import check_digit
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


def plan_tender(
    rules: RuleSet,
    asked: int,
    *,
    balance: int,
    due_cents: int,
    offline: bool = False,
    redeemed_today: int = 0,
    payable_cents: int | None = None,
) -> TenderPlan:
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
                balance=max(balance, 0), asked=asked
            )
        )
    points, notes = _for_what_is_due(rules, asked, due_cents, payable_cents)
    if offline:
        points = _within_offline_cap(rules, points, redeemed_today, notes)
    if points < r.min_points:
        raise RedemptionError(
            _("at least {least} points are redeemed at a time, {points} would be").format(
                least=r.min_points, points=points
            )
        )
    return TenderPlan(points, points * r.cents_per_point, "; ".join(notes))


def _for_what_is_due(rules: RuleSet, asked: int, due_cents: int, payable_cents: int | None) -> tuple[int, list[str]]:
    """The points of `asked` that pay what is due (what points may pay for, when given), and why fewer."""
    if due_cents <= 0:
        raise RedemptionError(_("nothing is left to pay on this ticket: add articles before redeeming points"))
    payable = due_cents if payable_cents is None else min(due_cents, payable_cents)
    if payable <= 0:
        refused = ", ".join(rules.exclusions.redemption_categories)
        raise RedemptionError(
            _("points cannot pay for {refused}: pay what is due with another tender").format(refused=refused)
        )
    point = rules.redemption.cents_per_point
    most_for_due = payable // point
    if most_for_due == 0:
        raise RedemptionError(
            _("{due} is less than one point ({point}): pay it with another tender").format(
                due=format_money(due_cents), point=format_money(point)
            )
        )
    if asked <= most_for_due:
        return asked, []
    if payable < due_cents:
        refused = ", ".join(rules.exclusions.redemption_categories)
        note = _("points pay at most {amount}: {refused} is paid with another tender").format(
            amount=format_money(payable), refused=refused
        )
    else:
        note = _("only {points} points are needed to pay what is due").format(points=most_for_due)
    return most_for_due, [note]


def _within_offline_cap(rules: RuleSet, points: int, redeemed_today: int, notes: list[str]) -> int:
    """Offline, a card redeems at most the daily cap: the points left within it (a note added when fewer)."""
    cap = rules.redemption.offline_daily_cap_points
    room = max(cap - redeemed_today, 0)
    if room == 0:
        raise RedemptionError(
            _(
                "offline cap reached: a card may redeem at most {cap} points a day while the till is offline, "
                "and {today} were already redeemed today; try again once online"
            ).format(cap=cap, today=redeemed_today)
        )
    if points <= room:
        return points
    notes.append(
        _(
            "offline cap: at most {cap} points a day per card while the till is offline ({today} "
            "already today), so {points} points are redeemed"
        ).format(cap=cap, today=redeemed_today, points=room)
    )
    return room


def check_offline_cap(rules: RuleSet, points: int, *, offline: bool, redeemed_today: int) -> None:
    """Refuse, with the reason, what would take a card past the offline daily cap (loyalty cheques)."""
    cap = rules.redemption.offline_daily_cap_points
    if not offline or redeemed_today + points <= cap:
        return
    raise RedemptionError(
        _(
            "offline cap: a card may redeem at most {cap} points a day while the till is offline; {today} already "
            "today, {points} needed; issue it once the till is back online"
        ).format(cap=cap, today=redeemed_today, points=points)
    )


def issue_cheques(rules: RuleSet, balance: int) -> ChequeIssue:
    """As many cheques as the balance allows; the remainder is carried over."""
    cheques = rules.cheques
    if cheques is None:
        raise RedemptionError(_("rules {version} issue no loyalty cheques").format(version=rules.version))
    count = max(balance, 0) // cheques.threshold_points
    if count == 0:
        raise RedemptionError(
            _("the card has {balance} points; a loyalty cheque needs {threshold}").format(
                balance=balance, threshold=cheques.threshold_points
            )
        )
    points = count * cheques.threshold_points
    return ChequeIssue(count, points, cheques.cheque_cents, balance - points)


# -- loyalty cheques: serials, validity, the offline cap ------------------------------------------------
# A cheque's serial is 26 digits, printed under a Code128 barcode: store (5), till (3), the issuing ticket's
# sequence (9), the cheque's rank on that ticket (2), its value in cents (6), then a check digit (EAN weights
# 3 and 1 from the right). Tills mint serials with no coordination (a till's sequence has no holes and no
# repeats); head office's own cheques (the schedule) are store 0, till 0, numbered by their ledger entry.
# The value in the serial lets an offline till take a cheque under its cap; head office checks it against
# the cheque it holds, so a forged serial is found at ingest.
CHEQUE_SERIAL_LENGTH = 26
CHEQUE_VALIDITY = timedelta(days=90)  # a cheque may be spent up to 90 days after its issue
OFFLINE_CHEQUE_CAP_CENTS = 2_000  # a till offline takes at most this much in cheques per card and day
MAX_CHEQUES_PER_TICKET = 99
MAX_CHEQUE_SERIAL_CENTS = 999_999
CHEQUE_RULE = re.compile(r"^loyalty cheque: (\d{1,2}) x (\d{1,4})\.(\d\d) EUR$")


@dataclass(frozen=True)
class ChequeSerial:
    serial: str
    store: int
    till: int
    seq: int
    rank: int
    cents: int


def cheque_serial(terminal: str, seq: int, rank: int, cents: int) -> str:
    """The serial of the `rank`-th cheque (0-based) issued on ticket `seq` of `terminal` (S042-T07)."""
    store, _, till = terminal.partition("-")
    if not (store[1:].isdigit() and till[1:].isdigit()):
        raise RedemptionError(f"terminal {terminal!r} is not of the form S042-T07: no cheque serial")
    numbers = (int(store[1:]), int(till[1:]), seq, rank, cents)
    limits = (99_999, 999, 999_999_999, MAX_CHEQUES_PER_TICKET, MAX_CHEQUE_SERIAL_CENTS)
    if any(not 0 <= n <= top for n, top in zip(numbers, limits)):
        raise RedemptionError(f"a cheque serial cannot hold till {terminal}, ticket {seq}, rank {rank}, {cents} cents")
    body = "%05d%03d%09d%02d%06d" % numbers
    return body + str(check_digit(body))


def read_cheque_serial(text: str) -> ChequeSerial:
    """What a scanned or typed serial says; RedemptionError says what is wrong with it."""
    serial = text.strip().replace(" ", "")
    if not serial.isdigit() or len(serial) != CHEQUE_SERIAL_LENGTH:
        raise RedemptionError(
            _("{text} is not a loyalty cheque number: scan its barcode or type the 26 digits under it").format(
                text=text.strip() or _("an empty entry")
            )
        )
    if int(serial[-1]) != check_digit(serial[:-1]):
        raise RedemptionError(
            _(
                "loyalty cheque {serial} has a wrong check digit: scan the barcode again or check the digits typed"
            ).format(serial=serial)
        )
    return ChequeSerial(
        serial, int(serial[0:5]), int(serial[5:8]), int(serial[8:17]), int(serial[17:19]), int(serial[19:25])
    )


def cheques_of_entry(rule: str) -> tuple[int, int] | None:
    """(count, cents each) of a `loyalty cheque: N x 5.00 EUR` redeem entry, else None."""
    match = CHEQUE_RULE.match(rule)
    if match is None:
        return None
    return int(match.group(1)), int(match.group(2)) * 100 + int(match.group(3))


def check_offline_cheque(cents: int, *, taken_today: int) -> None:
    """Refuse, offline, a cheque that would take the card past OFFLINE_CHEQUE_CAP_CENTS today."""
    if taken_today + cents <= OFFLINE_CHEQUE_CAP_CENTS:
        return
    raise RedemptionError(
        _(
            "offline cap: this till takes at most {cap} in loyalty cheques a day per card while "
            "it cannot reach head office, {today} already taken; take the cheque once the till is "
            "back online"
        ).format(cap=format_money(OFFLINE_CHEQUE_CAP_CENTS), today=format_money(taken_today))
    )


def cheques_issued(ticket) -> list[tuple[str, int]]:
    """The cheques a ticket issues, as (serial, cents), in the order the till numbers them: each cheque of its
    `loyalty cheque: N x ...` redeem entries, then each negative `cheque` tender (a return's refund)."""
    values = []
    for entry in ticket.points:
        found = cheques_of_entry(entry.rule) if entry.kind == "redeem" else None
        if found is not None:
            values.extend([found[1]] * found[0])
    values.extend(-tender.cents for tender in ticket.tenders if tender.kind == "cheque" and tender.cents < 0)
    return [(cheque_serial(ticket.terminal, ticket.seq, rank, cents), cents) for rank, cents in enumerate(values)]
