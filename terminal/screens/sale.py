"""The sale screen: one entry line whose meaning the function keys change, the basket, card and receipt.

Keys only: the entry line takes scans and typed GTINs by default; F2, F4, F6, F7, F8, F10 switch it
to card number, void, redeem, return, reprint and pay; Escape goes back to scanning.
"""

from __future__ import annotations

from programme.campaign_offers import describe
from programme.errors import ProgrammeError
from programme.i18n import N_, _, format_money
from programme.money import parse_euros
from programme.rule_names import rule_text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Label, Static

from ..cardstate import CardBalance
from ..errors import TillError
from ..till import Closed, TillSession
from .panels import CardPanel, StatusBar, TotalsPanel, cheque_note
from .texts import translate_bindings

PROMPTS = {
    "scan": N_("scan or type GTIN (3*GTIN for a quantity, GTIN@1.99 for a price)"),
    "card": N_("card number (13 digits) or the customer's phone number, Enter"),
    "void": N_("line number to void (Enter = last line)"),
    "redeem": N_("points to redeem"),
    "pay": N_("pay: cash|card [amount], cheque SERIAL, e.g. cash 50 (Enter = cash, exact)"),
    "return": N_("number of the ticket to return, e.g. S001-T01-00000042"),
    "return_lines": N_("lines to return: 1 2x3 ... (line, or QTYxLINE; Enter = all)"),
    "reprint": N_("ticket number to reprint (Enter = last ticket)"),
}
# The English words always work (habit, scripts); the French ones are those the French prompt names.
TENDERS = {
    "cash": "cash",
    "c": "cash",
    "card": "bank_card",
    "b": "bank_card",
    "bank_card": "bank_card",
    "cheque": "cheque",
    "q": "cheque",
    "especes": "cash",
    "espèces": "cash",
    "e": "cash",
    "carte": "bank_card",
    "cb": "bank_card",
    "chèque": "cheque",
}


class SaleScreen(Screen):
    BINDINGS = [
        Binding("f2", "mode('card')", N_("Card")),
        Binding("f3", "cancel", N_("Cancel ticket")),
        Binding("f4", "mode('void')", N_("Void")),
        Binding("f5", "print_receipt", N_("Receipt")),
        Binding("f6", "mode('redeem')", N_("Redeem")),
        Binding("f7", "mode('return')", N_("Return")),
        Binding("f8", "mode('reprint')", N_("Reprint")),
        Binding("f9", "cheque", N_("Cheque")),
        Binding("f10", "mode('pay')", N_("Pay")),
        Binding("escape", "mode('scan')", N_("Scan"), show=False),
    ]

    def __init__(self, session: TillSession):
        super().__init__()
        translate_bindings(self)
        self.session = session
        self.mode = "scan"
        self.return_of: str | None = None

    def compose(self) -> ComposeResult:
        with Horizontal(id="main"):
            with Vertical(id="left"):
                yield DataTable(id="lines", cursor_type="row", zebra_stripes=True)
                yield TotalsPanel(id="totals", markup=False)
            with Vertical(id="right"):
                yield CardPanel(id="card", markup=False)
                # AGEC (loi anti-gaspillage): the sign customers read; durable goods still print by themselves
                yield Static(_("Receipt on request: ask the cashier (F5)"), id="agec", markup=False)
                yield Static(id="receipt", markup=False)
        yield Static(id="message", markup=False)
        yield Label(_(PROMPTS["scan"]), id="prompt", markup=False)
        yield Input(id="entry")
        yield StatusBar(id="status", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#lines", DataTable)
        table.can_focus = False
        table.add_columns("#", _("article"), _("qty"), _("unit"), _("total"))
        self.refresh_basket()
        self.query_one("#entry", Input).focus()

    # -- showing ---------------------------------------------------------------------------------
    def refresh_basket(self) -> None:
        basket = self.session.basket
        table = self.query_one("#lines", DataTable)
        table.clear()
        for n, line in enumerate(basket.lines, 1):
            table.add_row(
                str(n), line.label, str(line.quantity), format_money(line.unit_cents), format_money(line.total_cents)
            )
        self.query_one("#totals", TotalsPanel).show_basket(basket)
        balance = self.session.balance
        note = cheque_note(self.session.rules(), balance.points - basket.points_used) if balance else ""
        offers = [describe(offer) for offer in self.session.offers] if balance else []
        self.query_one("#card", CardPanel).show_card(balance, basket.points_used, note, offers)

    def say(self, text: str, error: bool = False) -> None:
        message = self.query_one("#message", Static)
        message.set_class(error, "error")
        message.update(text)

    def set_mode(self, mode: str) -> None:
        self.mode = mode
        self.query_one("#prompt", Label).update(_(PROMPTS[mode]))
        entry = self.query_one("#entry", Input)
        entry.value = ""
        entry.focus()

    # -- actions -----------------------------------------------------------------------------------
    def action_mode(self, mode: str) -> None:
        self.set_mode(mode)

    def action_cancel(self) -> None:
        self.session.cancel()
        self.set_mode("scan")
        self.refresh_basket()
        self.say(_("ticket cancelled"))

    def action_print_receipt(self) -> None:
        """AGEC: the last ticket's receipt prints when the customer asks for it (F5)."""
        try:
            self.session.print_receipt()
        except TillError as exc:
            self.say(str(exc), error=True)
            return
        self.say(_("receipt printed"))

    def action_cheque(self) -> None:
        try:
            hold = self.session.hold_for(self.session.plan_cheques().points)
            if hold is not None:  # online: head office reserves the points first, off the UI thread
                self.say(_("asking head office to reserve the points..."))
                self.reserve_points(hold, lambda answer: self.finish_cheque(answer, hold))
                return
        except (TillError, ProgrammeError) as exc:
            self.say(str(exc), error=True)
            return
        self.finish_cheque()

    def finish_cheque(self, *answer) -> None:
        """`answer`: head office's reply to the reservation (None: none in time) and what was asked, when asked."""
        try:
            entry = self.session.issue_cheques(*answer)
        except (TillError, ProgrammeError) as exc:
            self.say(str(exc), error=True)
            return
        self.refresh_basket()
        self.say(
            _("{rule} ({points} points): printed when the ticket closes").format(
                rule=rule_text(entry.rule), points=entry.points
            )
        )

    @work(thread=True, exclusive=True, group="reserve")
    def reserve_points(self, hold, finish) -> None:
        """Off the UI thread: head office reserves the points (up to ASK_TIMEOUT), then `finish` applies its reply."""
        answer = self.session.reserve(hold)
        self.app.call_from_thread(finish, answer)

    @work(thread=True, exclusive=True, group="reserve")
    def ask_cheque(self, serial: str) -> None:
        """Off the UI thread: head office checks the loyalty cheque (up to ASK_TIMEOUT), then it is taken or refused."""
        answer = self.session.ask_cheque(serial.replace(" ", ""))
        self.app.call_from_thread(self.take_cheque, serial, answer)

    def take_cheque(self, serial: str, answer) -> None:
        try:
            self.say(self.session.spend_cheque(serial, answer))
        except (TillError, ProgrammeError) as exc:
            self.say(str(exc), error=True)
        self.refresh_basket()
        self.close_if_settled()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        text, mode = event.value.strip(), self.mode
        event.input.value = ""
        try:
            getattr(self, f"do_{mode}")(text)
        except (TillError, ProgrammeError) as exc:
            self.say(str(exc), error=True)
        self.refresh_basket()

    def do_scan(self, text: str) -> None:
        if not text:
            return
        line = self.session.scan(text)
        self.say(f"{line.label}  {line.quantity} x {format_money(line.unit_cents)}")

    def do_card(self, text: str) -> None:
        self.say(_("reading card..."))
        self.lookup_card(text)
        self.set_mode("scan")

    @work(thread=True, exclusive=True, group="card")
    def lookup_card(self, number: str) -> None:
        """Card I/O off the UI thread: hot-list and balance from the journal (the reader, when it lands)."""
        try:
            balance = self.session.lookup_card(number)
        except TillError as exc:
            self.app.call_from_thread(self.card_refused, str(exc))
            return
        self.app.call_from_thread(self.card_found, balance)

    def card_found(self, balance: CardBalance) -> None:
        try:
            self.session.set_card(balance)
        except TillError as exc:
            self.say(str(exc), error=True)
            return
        self.refresh_basket()
        self.say(_("card {masked} identified").format(masked=balance.masked))

    def card_refused(self, message: str) -> None:
        self.query_one("#card", CardPanel).show_refused(message)
        self.say(message, error=True)

    def do_void(self, text: str) -> None:
        if text and not text.isdigit():
            raise TillError(
                _("{text!r} is not a line number: type the number shown in the first column").format(text=text)
            )
        line = self.session.void(int(text) - 1 if text else None)
        self.say(_("voided: {label} {total}").format(label=line.label, total=format_money(line.total_cents)))
        self.set_mode("scan")

    def do_redeem(self, text: str) -> None:
        if not text.isdigit():
            raise TillError(_("{text!r} is not a number of points: type digits only, e.g. 200").format(text=text))
        points = int(text)
        hold = self.session.hold_for(self.session.plan_redeem(points).points)
        if hold is not None:  # online: head office reserves the points first, off the UI thread
            self.say(_("asking head office to reserve the points..."))
            self.reserve_points(hold, lambda answer: self.finish_redeem(points, answer, hold))
            return
        self.finish_redeem(points)

    def finish_redeem(self, points: int, *answer) -> None:
        try:
            redemption = self.session.redeem(points, *answer)
        except (TillError, ProgrammeError) as exc:
            self.say(str(exc), error=True)
            return
        self.refresh_basket()
        note = f" ({redemption.note})" if redemption.note else ""
        self.say(
            _("{points} points redeemed for {amount}").format(
                points=redemption.points, amount=format_money(redemption.cents)
            )
            + note
        )
        self.set_mode("pay" if self.session.basket.due_cents else "scan")
        self.close_if_settled()

    def do_pay(self, text: str) -> None:
        kind, _sep, amount = (text or "cash").partition(" ")
        if TENDERS.get(kind.lower()) == "cheque" and amount.strip():  # a loyalty cheque: its serial, asked off-thread
            self.session.check_cheque(amount)
            self.say(_("asking head office about the cheque..."))
            self.ask_cheque(amount.strip())
            return
        if kind.lower() not in TENDERS:
            raise TillError(_("{kind!r} is not a tender: type cash, card or cheque, then the amount").format(kind=kind))
        change = self.session.pay(TENDERS[kind.lower()], parse_euros(amount) if amount.strip() else None)
        if change:
            self.say(_("change to give: {amount}").format(amount=format_money(change)))
        self.close_if_settled()

    def close_if_settled(self) -> None:
        if self.session.basket.settled:
            change = self.session.basket.change_cents
            self.show_closed(self.session.close())
            if change:
                self.say(_("ticket closed; change to give: {amount}").format(amount=format_money(change)))
            self.set_mode("scan")
            self.app.wake_sync()

    def show_closed(self, closed: Closed) -> None:
        receipt = closed.receipt + (closed.control_slip or "") + "".join(closed.cheques)
        self.query_one("#receipt", Static).update(receipt)
        closed_text = _("ticket {id} closed").format(id=closed.ticket.id)
        if not closed.printed:  # AGEC: no paper unless the customer asks
            closed_text += _("; receipt on request: F5")
        self.say(closed.print_error or closed_text, error=bool(closed.print_error))

    def do_reprint(self, text: str) -> None:
        self.query_one("#receipt", Static).update(self.session.reprint(text or None))
        self.say(_("duplicate printed"))
        self.set_mode("scan")

    def do_return(self, text: str) -> None:
        if self.session.needs_fetching(text):
            self.say(_("asking head office for the ticket..."))
            self.fetch_return(text)
            return
        self.show_return(text)

    def show_return(self, text: str) -> None:
        from ..returns import find_original, returned_so_far

        original = find_original(self.session.journal, text)  # this till's, or kept from head office
        done, _returned = returned_so_far(self.session.journal, original.id)
        rows = [f"{n}. {li.label} x{li.quantity - done.get(n - 1, 0)}" for n, li in enumerate(original.lines, 1)]
        self.query_one("#receipt", Static).update(_("return of {id}").format(id=original.id) + "\n" + "\n".join(rows))
        self.return_of = original.id
        self.set_mode("return_lines")

    @work(thread=True, exclusive=True, group="return")
    def fetch_return(self, ticket_id: str) -> None:
        """Off the UI thread: a ticket of another till, asked from head office (up to ASK_TIMEOUT), then shown."""
        try:
            self.session.fetch_original(ticket_id)
        except (TillError, ProgrammeError) as exc:
            self.app.call_from_thread(self.say, str(exc), True)
            return
        self.app.call_from_thread(self.fetched_return, ticket_id)

    def fetched_return(self, ticket_id: str) -> None:
        try:
            self.show_return(ticket_id)
        except (TillError, ProgrammeError) as exc:
            self.say(str(exc), error=True)

    def do_return_lines(self, text: str) -> None:
        from ..returns import find_original, returned_so_far

        if not self.return_of:
            raise TillError(_("no ticket picked for the return: press F7 and type its number"))
        original = find_original(self.session.journal, self.return_of)  # kept by F7: never asked again
        done, _returned = returned_so_far(self.session.journal, original.id)
        left = {n: li.quantity - done.get(n, 0) for n, li in enumerate(original.lines)}
        if text:
            picks: dict[int, int] = {}
            for word in text.split():
                qty, _sep, line = word.rpartition("x")
                if not line.isdigit() or (qty and not qty.isdigit()):
                    raise TillError(_("{word!r}: type a line number, or QTYxLINE such as 2x3").format(word=word))
                picks[int(line) - 1] = int(qty) if qty else left.get(int(line) - 1, 1)
        else:
            picks = {n: q for n, q in left.items() if q > 0}
        closed = self.session.return_lines(original.id, picks, ask=False)  # asked by F7's worker
        self.show_closed(closed)
        self.return_of = None
        self.set_mode("scan")
        self.app.wake_sync()
