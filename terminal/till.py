"""A cashier's session at one till: everything the screen does, as plain methods tests call too.

The screen only turns keys into these calls and shows what they return. Card look-ups open their
own SQLite connection so a worker thread can run them while the screen keeps answering.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date

from programme.campaign_offers import CampaignOffer, campaign_of
from programme.i18n import _, format_date, format_money
from programme.redemption import cheques_issued
from programme.redemption import ChequeIssue, TenderPlan, plan_tender
from programme.ticket import Line, PointsEntry, Ticket

from cardreader.identity import CardIdentity
from sync.till_db import open_till_db

from . import cardstate
from .answers import shown
from .cardio import typed_identity
from .basket import Basket
from .cardstate import CardBalance
from .errors import BasketError, RedeemError, TillError
from .journal import Journal
from .offers import offers_by_campaign, offers_for_card
from .receipt import (
    make_printer,
    needs_printing,
    print_text,
    render_cheques,
    render_control_slip,
    render_duplicate,
    render_receipt,
    render_training,
)
from .receipt_qr import link_for, qr_line
from .returns import close_return
from .sale import close_sale
from .simulate import Article, catalogue


def default_catalogue(seed: int = 0) -> dict[str, Article]:
    """The generated catalogue the simulator sells from (the same seed gives the same articles)."""
    return {article.gtin: article for article in catalogue(random.Random(seed))}


ASK = object()  # redeem()/issue_cheques(): ask head office now (a worker may pass the reply it already has)
NO_ANSWER = "head office did not answer in time: the offline cap applies"


@dataclass(frozen=True)
class Hold:
    """Points of a card to reserve at head office before this till spends them; `after_seq`: the till's last
    ticket sequence, so only a later ticket of this till uses the reservation."""

    card: str
    points: int
    after_seq: int


@dataclass(frozen=True)
class Closed:
    ticket: Ticket
    receipt: str
    control_slip: str | None
    balance: CardBalance | None
    print_error: str | None = None
    cheques: tuple[str, ...] = ()
    printed: bool = False  # the receipt was printed at close (durable goods); otherwise on request (AGEC)


class TillSession:
    def __init__(
        self,
        db: str,
        terminal: str,
        *,
        cashier: str = "cashier",
        catalogue: Mapping[str, Article] | None = None,
        printer: str = "dummy",
        online: Callable[[], bool] = lambda: False,
        key: str | None = None,
        requester=None,
        settings=None,
    ):
        """`requester` (terminal.requests.Requester): asks head office for unknown balances and tickets;
        `settings` (terminal.store_settings.StoreSettings): the receipt's legal mentions, by default read from
        store.toml beside the till's key or $LOYALTY_STORE_SETTINGS."""
        from .keys import load_key
        from .store_settings import load_settings

        self.settings = load_settings(key) if settings is None else settings  # read first: a bad file opens nothing
        self.db = str(db)
        self.journal = Journal(db, terminal, load_key(key) if key else None)  # key: tickets are signed
        self.terminal = terminal
        self.cashier = cashier
        # By default the catalogue head office pushed (terminal/catalogue_store.py), priced on the store's day.
        self.catalogue = self._received_catalogue() if catalogue is None else catalogue
        self.basket = Basket(self.catalogue)
        self.balance: CardBalance | None = None
        self.offers: list[CampaignOffer] = []  # head office's offers for the card, applied at close
        self.printer_spec = printer
        self.printer = make_printer(printer)
        self.online = online
        self.requester = requester
        self.last_ticket_id: str | None = None
        self._unprinted: tuple[str, str | None] | None = None  # the last receipt (and its link) till asked for
        self.training = False  # "mode école": tickets go to the training chain, never to sales or totals
        self.closed_days: list[str] = []  # the days the last close_day closed (F12 may catch up on missed ones)
        self.offline_cheques: set[str] = set()  # cheques on this ticket head office did not confirm

    def _received_catalogue(self):
        from programme.engine import local_day
        from programme.ticket import utc_now

        from . import rules_store
        from .catalogue_store import TillCatalogue

        def today():
            now = utc_now()
            return local_day(rules_store.in_force(self.journal.conn, now), now)

        return TillCatalogue(self.journal.conn, self.journal.store, today)

    # -- basket ------------------------------------------------------------------------------------
    def scan(self, text: str) -> Line:
        return self.basket.scan(text)

    def void(self, index: int | None = None) -> Line:
        """Void a line of the basket; the void is journaled (signed, chained, sent to head office)."""
        line = self.basket.void(index)
        if not self.training:
            self.journal.record_event("line_void", cashier=self.cashier, lines=[line])
        return line

    def cancel(self) -> None:
        """Cancel the ticket; points head office reserved for it are released (or lapse, offline).
        A cancelled ticket with lines is journaled with them."""
        if self.requester is not None:
            for reservation in self.basket.reservations:
                self.requester.tell("release", reservation=reservation)
        if self.basket.lines and not self.training:
            self.journal.record_event("ticket_cancel", cashier=self.cashier, lines=list(self.basket.lines))
        self.basket.cancel()
        self.balance = None
        self.offers = []
        self.offline_cheques = set()

    def pay(self, kind: str, cents: int | None = None) -> int:
        if kind == "cheque":
            raise BasketError(
                _(
                    "a loyalty cheque is taken by its number: type cheque then the 26 digits under "
                    "its barcode, or scan it"
                )
            )
        return self.basket.pay(kind, cents)

    # -- loyalty cheques as a tender: checked with head office when online ----------------------------------
    def check_cheque(self, text: str):
        """What the till checks alone (card, digits, not taken already); the cheque's serial, parsed."""
        from .cheques import check_serial

        return check_serial(
            self.journal.conn, text, self.basket.card, [t.serial for t in self.basket.tenders if t.kind == "cheque"]
        )

    def ask_cheque(self, serial: str):
        """Ask head office about the cheque (waits up to ASK_TIMEOUT; no database: safe in a worker). None when
        the till cannot ask or no answer came: the offline cap applies then."""
        if self.requester is None or self.basket.card is None or not self.online():
            return None
        return self.requester.ask("cheque", serial=serial, card=self.basket.card)

    def spend_cheque(self, text: str, answer=ASK) -> str:
        """Take a loyalty cheque as a tender: online head office says yes (and holds it for this till) or why
        not; offline the value its serial carries is taken under the offline cap. It pays at most what is due
        (no change on a cheque). Returns what to tell the cashier."""
        from programme.engine import day_start
        from programme.i18n import format_money
        from programme.ticket import utc_now

        from .cheques import value_offline

        cheque = self.check_cheque(text)
        if answer is ASK:
            answer = self.ask_cheque(cheque.serial)
        if answer is not None and not answer.found:
            raise RedeemError(shown(answer) or _("head office refused the loyalty cheque: ask the welcome desk"))
        if answer is not None and answer.cheque is not None:
            cents, note = answer.cheque.cents, ""
        else:
            taken = sum(t.cents for t in self.basket.tenders if t.serial in self.offline_cheques)
            cents = value_offline(
                self.journal.conn, cheque, self.basket.card, day_start(self.rules(), utc_now()), taken
            )
            self.offline_cheques.add(cheque.serial)
            note = _("offline: taken under the offline cap; head office checks it when the till syncs")
        due = self.basket.due_cents
        self.basket.pay("cheque", min(cents, due) if due > 0 else None, serial=cheque.serial)
        said = _("loyalty cheque {serial}: {value}").format(serial=cheque.serial, value=format_money(cents))
        if cents > due > 0:
            said += "; " + _("it pays the {due} due, the rest is not given back").format(due=format_money(due))
        return "; ".join(filter(None, [said, note]))

    # -- card --------------------------------------------------------------------------------------
    def lookup_card(self, card: str | CardIdentity) -> CardBalance:
        """Check the card (number, hot-list) and read its balance; safe to call from a worker thread.

        `card` is what the cashier typed or the scanner sent, or a chip read's CardIdentity; a phone number typed
        (06..., +33...) is looked up at head office and the balance carries the customer's name masked, for the
        cashier to confirm.
        """
        from .requests import looks_like_phone

        masked_name = None
        if not isinstance(card, CardIdentity) and looks_like_phone(card):
            card, masked_name = self.card_by_phone(card)
        number = card.number if isinstance(card, CardIdentity) else typed_identity(card).number
        if masked_name is not None:
            return replace(self._balance_of(number), first_name=masked_name)
        return self._balance_of(number)

    def card_by_phone(self, phone: str) -> tuple[str, str]:
        """The card of the customer with this phone number and the name masked, from head office (waits up to
        ASK_TIMEOUT: from a worker); TillError says why not, offline that the till cannot."""
        offline = _("the till is offline: it cannot find a customer by phone number; scan or type the card")
        if self.requester is None or not self.online():
            raise TillError(offline)
        reply = self.requester.ask("phone", phone=phone.strip())
        if reply is None:
            raise TillError(offline)
        if not reply.found or reply.customer is None:
            raise TillError(
                shown(reply) or _("head office found no customer with this phone number: scan or type the card")
            )
        return reply.customer.card, reply.customer.masked_name

    def _balance_of(self, number: str) -> CardBalance:
        conn = open_till_db(self.db)
        try:
            card = cardstate.check_card(conn, number)
            online = self.online()
            if online and self.requester is not None:
                from .requests import balance_is_stale, fetch_balance

                if balance_is_stale(conn, card):  # no answer in time: shown as not confirmed (offline)
                    online = fetch_balance(conn, self.requester, card)
            return cardstate.card_balance(conn, card, online)
        finally:
            conn.close()

    def set_card(self, balance: CardBalance) -> None:
        if self.basket.points_used:
            raise BasketError(_("points were already redeemed with another card: cancel the ticket to change card"))
        self.basket.card = balance.card
        self.balance = balance
        self.offers = self.card_offers(balance.card)

    def card_offers(self, card: str) -> list[CampaignOffer]:
        """The card's offers from head office, in force now in this store and not used yet."""
        from programme.engine import local_day
        from programme.ticket import utc_now

        from . import rules_store

        now = utc_now()
        today = local_day(rules_store.in_force(self.journal.conn, now), now)
        return offers_for_card(self.journal.conn, card, today, self.journal.store)

    def identify(self, number: str) -> CardBalance:
        balance = self.lookup_card(number)
        self.set_card(balance)
        return balance

    # -- spending points: reserved at head office when online ------------------------------------
    def plan_redeem(self, points: int, offline: bool | None = None) -> TenderPlan:
        """What `points` as a tender would pay under the rules in force (nothing applied yet); `offline`: the
        offline daily cap applies (by default when the card's balance is not confirmed by head office)."""
        if self.basket.card is None:
            raise RedeemError(_("no card on this ticket: identify the card (F2) before redeeming points"))
        from programme.redemption import payable_with_points

        balance = cardstate.card_balance(self.journal.conn, self.basket.card, self.online())
        rules = self.rules()
        tendered = sum(t.cents for t in self.basket.tenders if t.kind == "points")
        return plan_tender(
            rules,
            points,
            balance=balance.points - self.basket.points_used,
            due_cents=self.basket.due_cents,
            offline=not balance.confirmed if offline is None else offline,
            redeemed_today=self._redeemed_today(rules),
            payable_cents=payable_with_points(rules, self.basket.lines, tendered),
        )

    def hold_for(self, points: int) -> Hold | None:
        """The reservation to ask head office for before `points` of the ticket's card are spent; None when the
        till cannot ask (offline, or no requester): the offline cap applies then."""
        if self.requester is None or self.basket.card is None or not self.online():
            return None
        return Hold(self.basket.card, points, self.journal.last_seq())

    def reserve(self, hold: Hold):
        """Ask head office to hold the points (waits up to ASK_TIMEOUT); no database, so safe in a worker thread.
        The reply, or None without one in time."""
        return self.requester.ask("reserve", card=hold.card, points=hold.points, after_seq=hold.after_seq)

    def _reserved(self, answer, hold: Hold, asked: Hold | None) -> bool:
        """True when head office holds the points for this ticket, False when it did not answer (offline: the
        cap applies); its refusal is raised with its message, which says how many points are available.
        `asked`: what a worker asked for; the ticket must still want just that (same card, same points)."""
        if asked is not None and (asked.card, asked.points) != (hold.card, hold.points):
            with self._released_on_error(answer):
                raise RedeemError(_("the ticket changed while head office answered: redeem the points again"))
        if answer is None:
            return False
        if not answer.found or answer.reservation is None:
            raise RedeemError(shown(answer) or _("head office refused to reserve the points: ask the welcome desk"))
        self.basket.reservations.append(answer.reservation.id)
        return True

    @contextmanager
    def _released_on_error(self, answer):
        """A reservation a worker obtained for a ticket changed meanwhile (cancelled, say) is given back."""
        try:
            yield
        except BaseException:
            granted = getattr(answer, "reservation", None)
            if granted is not None and self.requester is not None:
                self.requester.tell("release", reservation=granted.id)
            raise

    def redeem(self, points: int, answer=ASK, asked: Hold | None = None) -> TenderPlan:
        """Points as a tender, under the rules in force: what a point pays, the minimum, the offline cap.

        Online, head office first reserves the points (`answer`: its reply when a worker already asked, None when
        none came, `asked` what it asked): refused, nothing is redeemed; no answer in time, the offline cap applies."""
        with self._released_on_error(answer):
            plan = self.plan_redeem(points)
        hold = self.hold_for(plan.points)
        if hold is not None:
            if answer is ASK:
                answer = self.reserve(hold)
            if not self._reserved(answer, hold, asked):
                plan = self.plan_redeem(points, offline=True)
                plan = replace(plan, note="; ".join(filter(None, [NO_ANSWER, plan.note])))
        self.basket.apply_redemption(plan)
        return plan

    def _redeemed_today(self, rules) -> int:
        """Points the card redeemed at this till since the store's day began, this ticket's included."""
        from programme.engine import day_start
        from programme.ticket import utc_now

        since = day_start(rules, utc_now())
        return cardstate.redeemed_today(self.journal.conn, self.basket.card, since) + self.basket.points_used

    def rules(self):
        from programme.ticket import utc_now

        from .rules_store import in_force

        return in_force(self.journal.conn, utc_now())

    def plan_cheques(self) -> ChequeIssue:
        """The loyalty cheques the card's balance gives now (nothing applied yet)."""
        from programme.redemption import issue_cheques

        if self.basket.card is None:
            raise RedeemError(_("no card on this ticket: identify the card (F2) before issuing a loyalty cheque"))
        balance = cardstate.card_balance(self.journal.conn, self.basket.card, self.online())
        return issue_cheques(self.rules(), balance.points - self.basket.points_used)

    def issue_cheques(self, answer=ASK, asked: Hold | None = None) -> PointsEntry:
        """Turn whole thresholds of the card's balance into loyalty cheques, on this ticket; online, head office
        reserves their points first (see `redeem`)."""
        from programme.money import format_cents
        from programme.redemption import check_offline_cap

        with self._released_on_error(answer):
            issue = self.plan_cheques()
        rules = self.rules()
        offline = not cardstate.card_balance(self.journal.conn, self.basket.card, self.online()).confirmed
        hold = self.hold_for(issue.points)
        if hold is not None:
            if answer is ASK:
                answer = self.reserve(hold)
            offline = not self._reserved(answer, hold, asked)
        check_offline_cap(rules, issue.points, offline=offline, redeemed_today=self._redeemed_today(rules))
        entry = PointsEntry(
            kind="redeem", rule=f"loyalty cheque: {issue.count} x {format_cents(issue.cents)} EUR", points=issue.points
        )
        self.basket.cheques.append(entry)
        return entry

    # -- close, reprint, return ----------------------------------------------------------------------
    def set_training(self, on: bool) -> None:
        """Enter or leave training mode ("mode école"), between tickets only."""
        if self.basket.lines:
            raise BasketError(_("a sale is in progress: close or cancel it before switching training mode"))
        self.training = on

    def close(self, also=None) -> Closed:
        """`also(conn, ticket)`: more rows written in the ticket's own transaction (the POS API's ticket number)."""
        basket = self.basket
        if not basket.lines:
            raise BasketError(_("the basket is empty: scan an article first"))
        if basket.due_cents:
            raise BasketError(
                _("{amount} still due: take a payment (F10) before closing").format(
                    amount=format_money(basket.due_cents)
                )
            )
        if self.training:
            return self._close_training()
        before = self.balance.points if self.balance else None
        ticket = close_sale(
            self.journal,
            list(basket.lines),
            basket.card,
            self.cashier,
            list(basket.tenders),
            basket.redeemed_points,
            list(basket.cheques),
            self.offline_cheques,
            also=also,
        )
        closed = self._finish(ticket, basket.change_cents, before)
        self.basket = Basket(self.catalogue)
        self.offline_cheques = set()
        self.balance = None
        self.offers = []
        return closed

    def _close_training(self) -> Closed:
        """A training ticket: journaled in the training chain, printed "mode école"; no sale, no points."""
        basket = self.basket
        event = self.journal.record_event("training_ticket", cashier=self.cashier, lines=list(basket.lines))
        shown = Ticket(
            id=f"{self.terminal}-E{event.seq:08d}",
            terminal=self.terminal,
            seq=event.seq,
            store=self.journal.store,
            cashier=self.cashier,
            opened_at=event.at,
            closed_at=event.at,
            lines=list(basket.lines),
            tenders=list(basket.tenders),
            total_cents=event.total_cents,
            card=None,
            points=[],
            rules_version="",
        )
        receipt = render_training(render_receipt(shown, change_cents=basket.change_cents))
        self.basket = Basket(self.catalogue)
        self.balance = None
        self.offers = []
        return Closed(shown, receipt, None, None, self._print(receipt), printed=True)

    def _finish(self, ticket: Ticket, change_cents: int, balance_before: int | None, always: bool = False) -> Closed:
        """`always`: print the receipt whatever the basket (a return's, the store's proof of the refund)."""
        balance = cardstate.card_balance(self.journal.conn, ticket.card, self.online()) if ticket.card else None
        offers = self._offers_on(ticket)
        receipt = render_receipt(
            ticket,
            change_cents=change_cents,
            balance=balance and balance.points,
            balance_confirmed=bool(balance and balance.confirmed),
            offers=offers,
            settings=self.settings,
            expires_on=self._expiry(ticket),
        )
        link = link_for(ticket)  # the QR code to the ticket's page (terminal/receipt_qr.py)
        receipt += f"{qr_line()}\n" if link else ""
        slip = None
        if ticket.points_redeemed:
            slip = render_control_slip(
                ticket,
                balance_before=balance_before if balance_before is not None else 0,
                balance_after=balance.points if balance else 0,
            )
        cheques = tuple(render_cheques(ticket, offers))
        with self.journal.conn:
            self.journal.conn.execute("INSERT INTO receipts (ticket_id, text) VALUES (?, ?)", (ticket.id, receipt))
        self.last_ticket_id = ticket.id
        # AGEC: the receipt prints when the customer asks (print_receipt), except for durable goods under the
        # legal guarantee; the control slip (kept by the till) and loyalty cheques (value) always print.
        printed = always or needs_printing(ticket)
        self._unprinted = None if printed else (receipt, link)
        # Cheques issued print with their serial as a barcode (terminal/cheques.py), head office's offers without.
        serials = [serial for serial, _cents in cheques_issued(ticket)]
        numbered = [(c, next((s for s in serials if s in c), None)) for c in cheques]
        error = self._print(
            receipt if printed else None, slip, *(c for c, s in numbered if s is None), qr=link
        ) or self._print_cheques([(c, s) for c, s in numbered if s is not None])
        return Closed(ticket, receipt, slip, balance, error, cheques, printed)

    def print_receipt(self) -> str:
        """Print the last ticket's receipt, which the customer asked for (AGEC: not printed unasked); once: a
        later copy is a reprint, marked DUPLICATA."""
        if self._unprinted is None:
            raise TillError(_("no receipt waiting to be printed: reprint (F8) prints a copy marked DUPLICATA"))
        text, link = self._unprinted
        error = self._print(text, qr=link)
        if error:
            raise TillError(error)
        self._unprinted = None
        return text

    def _expiry(self, ticket: Ticket):
        """When the points earned on the ticket expire, under the rules in force when it closed."""
        from programme.ledger import expires_on

        from .rules_store import in_force

        return expires_on(in_force(self.journal.conn, ticket.closed_at), ticket.closed_at) if ticket.card else None

    def _offers_on(self, ticket: Ticket) -> dict[int, CampaignOffer]:
        """Head office's offers named by the ticket's entries, for their campaign names on the receipt."""
        ids = sorted({c for c in (campaign_of(e.rule) for e in ticket.points) if c is not None})
        return offers_by_campaign(self.journal.conn, ids)

    def _print(self, *texts: str | None, qr: str | None = None) -> str | None:
        """Print; a printer fault never loses the ticket, which is already in the journal. `qr`: the first
        text's QR code."""
        try:
            for n, text in enumerate(texts):
                if text:
                    print_text(self.printer, text, qr=qr if n == 0 else None)
        except (OSError, TillError) as exc:
            return _("the receipt could not be printed ({error}): fix the printer, then reprint (F8)").format(error=exc)
        return None

    def _print_cheques(self, slips: list[tuple[str, str]]) -> str | None:
        """Print the cheques (slip, serial) with their serial as a barcode (terminal/cheques.py)."""
        from .cheques import print_cheque

        try:
            for slip, serial in slips:
                print_cheque(self.printer, slip, serial)
        except (OSError, TillError) as exc:
            return _("the receipt could not be printed ({error}): fix the printer, then reprint (F8)").format(error=exc)
        return None

    def reprint(self, ticket_id: str | None = None) -> str:
        ticket_id = (ticket_id or self.last_ticket_id or "").strip()
        if not ticket_id:
            raise TillError(_("no ticket to reprint yet: type the ticket number printed at the foot of the receipt"))
        row = self.journal.conn.execute("SELECT text FROM receipts WHERE ticket_id = ?", (ticket_id,)).fetchone()
        if row is None:
            # Closed without the screen (loyalty till sell): rebuilt from the journal, change and balance unknown.
            ticket = self.journal.find_ticket(ticket_id)
            if ticket is None:
                raise TillError(
                    _("no ticket {id} in this till's journal: check the number at the foot of the receipt").format(
                        id=ticket_id
                    )
                )
            row = (
                render_receipt(
                    ticket, offers=self._offers_on(ticket), settings=self.settings, expires_on=self._expiry(ticket)
                ),
            )
        copy = self.copies(ticket_id) + 1
        self.journal.record_event("reprint", cashier=self.cashier, ticket_id=ticket_id, copy=copy)
        text = render_duplicate(row[0], copy)
        error = self._print(text)
        if error:
            raise TillError(error)
        return text

    def copies(self, ticket_id: str) -> int:
        """How many duplicates of the ticket were printed (the original is copy 0)."""
        return self.journal.conn.execute(
            "SELECT count(*) FROM till_events WHERE kind = 'reprint' AND ticket_id = ?", (ticket_id,)
        ).fetchone()[0]

    def return_lines(
        self, original_id: str, picks: Mapping[int, int], tender_kind: str = "cash", ask: bool = True
    ) -> Closed:
        """`ask`: ask head office first what other tills returned (may wait ASK_TIMEOUT); the screen has asked
        in a worker when the ticket was picked (fetch_original) and passes False."""
        if self.basket.lines:
            raise BasketError(_("a sale is in progress: close or cancel it before a return"))
        ticket = close_return(
            self.journal, original_id, picks, self.cashier, tender_kind, self.requester if ask else None
        )
        return self._finish(ticket, 0, None, always=True)

    def find_original(self, ticket_id: str) -> Ticket:
        """The ticket to return: this till's journal, else head office when online (may wait ASK_TIMEOUT)."""
        from .returns import find_original

        return find_original(self.journal, ticket_id, self.requester if self.online() else None)

    def needs_fetching(self, ticket_id: str) -> bool:
        """Online, head office is asked (fetch_original) what other tills returned of the ticket, and for the
        ticket itself when it is another till's not kept here."""
        return self.requester is not None and self.online()

    def fetch_original(self, ticket_id: str) -> None:
        """Ask head office about a ticket to return and keep the answer; safe in a worker thread (own connection)."""
        from .returns import ask_head_office

        conn = open_till_db(self.db)
        try:
            ask_head_office(conn, self.terminal, self.requester, ticket_id)
        finally:
            conn.close()

    def close_day(self, day: str | None = None) -> str:
        """Close the store's day (today by default) and print its Z report; the closure is signed with the
        till's key, so a till without one cannot close. Earlier days this till sold on and nobody closed are
        closed first, oldest first, each with its Z report (`closed_days` lists the days closed). Returns the
        reports' text."""
        from programme.closure import ClosureError, period_of
        from programme.ticket import utc_now

        from .closures import ClosingError, close_period, ensure_schema, last_closure
        from .zreport import render_z_report

        if self.journal.signing_key is None:
            raise TillError(
                _("this till has no signing key: provision it (loyalty till provision) before closing a day")
            )
        if self.basket.lines:
            raise BasketError(_("a sale is in progress: close or cancel it before closing the day"))
        self.closed_days = []
        day = day or period_of(utc_now(), "day")
        ensure_schema(self.journal.conn)
        previous = last_closure(self.journal, "day")
        if previous is not None and previous.period == day:  # F12 pressed again: what the cashier reads
            raise TillError(
                _("the day of {day} is closed already (closure {number}): the next one closes tomorrow").format(
                    day=format_date(date.fromisoformat(day)), number=previous.number
                )
            )
        reports: list[str] = []
        try:  # a day nobody closed is closed first, in order: closures go forward, once per day
            for period in [*self._days_left_open(previous, day), day]:
                reports.append(render_z_report(close_period(self.journal, period, self.journal.signing_key)))
                self.closed_days.append(period)
        except (ClosingError, ClosureError) as exc:
            self._print(*reports)  # what was closed is printed all the same
            raise TillError(str(exc)) from None
        error = self._print(*reports)
        if error:
            raise TillError(error)
        return "\n".join(reports)

    def _days_left_open(self, previous, day: str) -> list[str]:
        """The store days before `day` on which this till sold and that no closure covers, oldest first."""
        from programme.closure import period_of

        from .closures import tickets_between

        sold = tickets_between(self.journal, previous.last_seq + 1 if previous else 1)
        days = {period_of(ticket.closed_at, "day") for ticket in sold}
        return sorted(d for d in days if d < day and (previous is None or d > previous.period))

    def close_session(self) -> None:
        self.journal.close()
