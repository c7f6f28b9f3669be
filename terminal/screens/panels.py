"""Panels of the sale screen: the card, the totals, the status bar. They only show what they are given."""
from __future__ import annotations

from programme.money import format_cents
from textual.widgets import Static

from ..basket import Basket
from ..cardstate import CardBalance


class CardPanel(Static):
    def show_card(self, balance: CardBalance | None, redeemed: int = 0, cheque_note: str = "",
                  offers: list[str] = ()) -> None:
        if balance is None:
            self.update("no card\nF2: type or scan the loyalty card")
            self.set_class(False, "blocked")
            return
        name = balance.first_name or "customer"
        mark = "" if balance.confirmed else "  (offline)"
        tier = f"  {balance.tier}" if balance.tier else ""
        text = f"card {balance.masked}  {name}{tier}\nbalance {balance.points} points{mark}"
        if cheque_note:
            text += f"\n{cheque_note}"
        if redeemed:
            text += f"\nredeemed on this ticket {redeemed}"
        for offer in offers:
            text += f"\n{offer}"
        self.set_class(False, "blocked")
        self.update(text)

    def show_refused(self, message: str) -> None:
        self.set_class(True, "blocked")
        self.update(message)


class TotalsPanel(Static):
    def show_basket(self, basket: Basket) -> None:
        text = (f"TOTAL {format_cents(basket.total_cents)}   items {basket.item_count}\n"
                f"paid {format_cents(basket.paid_cents)}   due {format_cents(basket.due_cents)}")
        if basket.change_cents:
            text += f"   change {format_cents(basket.change_cents)}"
        self.update(text)


class StatusBar(Static):
    def show_status(self, *, online: bool, broker: bool, backlog: int, last_ack: str | None, rules: str,
                    reader: str) -> None:
        state = "online" if online else ("offline" if broker else "offline (no broker)")
        ack = last_ack[11:19] if last_ack else "never"
        self.set_class(not online, "offline")
        self.update(f"{state} | backlog {backlog} | last ack {ack} | rules {rules} | reader {reader}")


def cheque_note(rules, points: int) -> str:
    """What the card's points are worth in loyalty cheques under `rules` (empty when it issues none)."""
    cheques = rules.cheques
    if cheques is None:
        return ""
    count = max(points, 0) // cheques.threshold_points
    if count:
        return (f"{count} loyalty cheque{'s' if count > 1 else ''} "
                f"of {format_cents(cheques.cheque_cents)} available (F9)")
    return f"next loyalty cheque in {cheques.threshold_points - max(points, 0)} points"
