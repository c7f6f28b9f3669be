"""Panels of the sale screen: the card, the totals, the status bar. They only show what they are given.

Every text goes through `_()` (French by default, `LOYALTY_LANG=en` for English) and money, dates and times
through programme.i18n's formats, in the store's local time.
"""

from __future__ import annotations

from datetime import datetime

from programme.i18n import _, format_date, format_money, local_time, ngettext
from textual.widgets import Static

from ..basket import Basket
from ..cardstate import CardBalance


class CardPanel(Static):
    def show_card(
        self, balance: CardBalance | None, redeemed: int = 0, cheque_note: str = "", offers: list[str] = ()
    ) -> None:
        if balance is None:
            self.update(_("no card") + "\n" + _("F2: type or scan the loyalty card"))
            self.set_class(False, "blocked")
            return
        name = balance.first_name or _("customer")
        mark = "  " + _("(offline)") if not balance.confirmed else ""
        tier = f"  {balance.tier}" if balance.tier else ""
        text = (
            _("card {masked}  {name}{tier}").format(masked=balance.masked, name=name, tier=tier)
            + "\n"
            + ngettext("balance {points} point", "balance {points} points", balance.points).format(
                points=balance.points
            )
            + mark
        )
        if cheque_note:
            text += f"\n{cheque_note}"
        if redeemed:
            text += "\n" + _("redeemed on this ticket {points}").format(points=redeemed)
        for offer in offers:
            text += f"\n{offer}"
        self.set_class(False, "blocked")
        self.update(text)

    def show_refused(self, message: str) -> None:
        self.set_class(True, "blocked")
        self.update(message)


class TotalsPanel(Static):
    def show_basket(self, basket: Basket) -> None:
        text = (
            _("TOTAL {total}   items {count}").format(total=format_money(basket.total_cents), count=basket.item_count)
            + "\n"
            + _("paid {paid}   due {due}").format(
                paid=format_money(basket.paid_cents), due=format_money(basket.due_cents)
            )
        )
        if basket.change_cents:
            text += "   " + _("change {change}").format(change=format_money(basket.change_cents))
        self.update(text)


def clock(moment: datetime) -> str:
    """A UTC moment as the status bar shows it: the local (Paris) date and time to the minute."""
    return f"{format_date(moment)} {local_time(moment):%H:%M}"


class StatusBar(Static):
    def show_status(
        self,
        *,
        online: bool,
        broker: bool,
        backlog: int,
        last_ack: str | None,
        rules: str,
        reader: str,
        store: str = "",
        till: str = "",
        cashier: str = "",
        now: datetime | None = None,
    ) -> None:
        state = _("online") if online else (_("offline") if broker else _("offline (no broker)"))
        ack = f"{local_time(datetime.fromisoformat(last_ack)):%H:%M:%S}" if last_ack else _("never")
        self.set_class(not online, "offline")
        where = [
            _("store {store}").format(store=store) if store else "",
            _("till {till}").format(till=till) if till else "",
            _("cashier {cashier}").format(cashier=cashier) if cashier else "",
            clock(now) if now else "",
        ]
        # the sync state first: it is what the cashier glances at
        self.update(
            " | ".join(
                [
                    state,
                    _("backlog {count}").format(count=backlog),
                    _("last ack {time}").format(time=ack),
                    _("rules {version}").format(version=rules),
                    _("reader {reader}").format(reader=reader),
                ]
                + [part for part in where if part]
            )
        )


def cheque_note(rules, points: int) -> str:
    """What the card's points are worth in loyalty cheques under `rules` (empty when it issues none)."""
    cheques = rules.cheques
    if cheques is None:
        return ""
    count = max(points, 0) // cheques.threshold_points
    if count:
        return ngettext(
            "{count} loyalty cheque of {value} available (F9)",
            "{count} loyalty cheques of {value} available (F9)",
            count,
        ).format(count=count, value=format_money(cheques.cheque_cents))
    return _("next loyalty cheque in {points} points").format(points=cheques.threshold_points - max(points, 0))
