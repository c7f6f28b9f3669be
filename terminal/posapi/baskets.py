"""The till as a POS sees it: one basket at a time over the screen's TillSession, each call on one thread.

The session's SQLite connection belongs to the thread that made it, so every call (and the abandoned-basket
reaper) runs on the session's own single thread: calls are serialised, a resent call finds the first one's
answer (idempotency.py), and nothing is written before a call is known to be acceptable.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from programme.errors import ProgrammeError, TicketError
from programme.i18n import _, format_money, language, use_language
from programme.ticket import MAX_AMOUNT_CENTS, Line, Tender, make_line
from sync.safe_files import connect_private

from .. import cardstate
from ..errors import TillError
from ..till import TillSession
from . import events, idempotency, tokens
from .idempotency import Answer, Reply
from .problems import PosApiError

ABANDON_AFTER = 15 * 60.0  # seconds without a call before an open basket is cancelled (--abandon-after)
REAP_EVERY = 5.0  # seconds between two looks for an abandoned basket; tests shorten it


@dataclass
class OpenBasket:
    id: str
    pos: str
    touched: float
    vat: list[int] = field(default_factory=list)  # VAT rate (basis points) of each line, as the POS sent it


def _lines(text: str) -> list[str]:
    return text.rstrip("\n").split("\n")


class PosHost:
    def __init__(
        self,
        db: str,
        terminal: str,
        *,
        cashier: str = "cashier",
        printer: str = "dummy",
        key: str | None = None,
        online: Callable[[], bool] = lambda: False,
        requester=None,
        abandon_after: float = ABANDON_AFTER,
        reader_state: Callable[[], str] = lambda: "none",
        clock: Callable[[], float] = time.monotonic,
    ):
        self.terminal = terminal
        self.default_cashier = cashier
        self.abandon_after = abandon_after
        self.reader_state = reader_state
        self.online = online
        self.clock = clock
        self.basket: OpenBasket | None = None
        self.presented = None  # the CardIdentity of the card in the till's reader now (read once per insertion)
        self._pool = ThreadPoolExecutor(1, thread_name_prefix=f"till-session-{terminal}")
        self._stop = threading.Event()
        self._reaper: threading.Thread | None = None

        def start() -> None:
            self.session = TillSession(
                db, terminal, cashier=cashier, printer=printer, online=online, key=key, requester=requester
            )
            # Our own tables, through a connection of their own: synchronous=NORMAL is enough for answers and
            # events (a ticket itself is written by the journal's connection, synchronous=FULL).
            self.conn = connect_private(db, timeout=30, check_same_thread=False)
            self.conn.execute("PRAGMA synchronous=NORMAL")
            for module in (idempotency, tokens, events):
                module.ensure_schema(self.conn)

        try:
            self.run(start)
        except BaseException:
            self._pool.shutdown()
            raise

    # -- threads ---------------------------------------------------------------------------------------------
    def run(self, fn: Callable, *args):
        """Run `fn` on the session's thread and wait for it (its exception is raised here)."""
        return self._pool.submit(fn, *args).result()

    def start_reaper(self) -> PosHost:
        def loop() -> None:
            while not self._stop.wait(REAP_EVERY):
                self.run(self.reap)

        self._reaper = threading.Thread(target=loop, name="pos-basket-reaper", daemon=True)
        self._reaper.start()
        return self

    def close(self) -> None:
        self._stop.set()
        if self._reaper is not None:
            self._reaper.join(REAP_EVERY + 5)

        def stop() -> None:
            self.conn.close()
            self.session.close_session()

        self.run(stop)
        self._pool.shutdown()

    def card_read(self, identity) -> None:
        """The reader thread read a card: `identify` with from_reader uses it while it stays in the reader."""
        self.presented = identity

    def card_gone(self) -> None:
        """The card was taken out of the reader."""
        self.presented = None

    def tokens(self) -> dict[str, str]:
        return self.run(tokens.known_tokens, self.conn)

    # -- one call -----------------------------------------------------------------------------------------------
    def call(
        self, pos: str, key: str | None, print_: str, action: Callable[[], Answer], lang: str | None = None
    ) -> Reply:
        """`action` on the session's thread, once per idempotency key: a resent call gets the first answer.
        `lang`: the language of its messages (the POS's), else the till's."""

        def work() -> Reply:
            with use_language(lang or language()):
                return answered()

        def answered() -> Reply:
            if key is not None:
                found = idempotency.recall(self.conn, pos, key, print_)
                if found is not None:
                    return found
            reply = Reply.of(action())
            if key is not None:
                idempotency.remember(self.conn, pos, key, print_, reply)
            return reply

        return self.run(work)

    # -- the conversation (each runs on the session's thread) ------------------------------------------------
    def reap(self) -> str | None:
        """Cancel the open basket when no call touched it for `abandon_after` seconds; its id, or None."""
        basket = self.basket
        if basket is None or self.clock() - basket.touched < self.abandon_after:
            return None
        self.session.cancel()
        self.basket = None
        events.record(self.conn, basket.pos, "abandoned", basket.id, detail=f"no call for {self.abandon_after:g} s")
        return basket.id

    def _open(self, pos: str, basket_id: str) -> OpenBasket:
        basket = self.basket
        if basket is None or basket.id != basket_id or basket.pos != pos:
            raise PosApiError(
                "basket_not_found",
                _("no open basket {basket}: it was committed, cancelled or abandoned; open a new basket").format(
                    basket=basket_id
                ),
            )
        basket.touched = self.clock()
        return basket

    def open_basket(self, pos: str, cashier: str | None) -> Answer:
        self.reap()
        if self.basket is not None:
            raise PosApiError(
                "basket_open",
                _("basket {basket} is still open: commit or cancel it before opening another").format(
                    basket=self.basket.id
                ),
            )
        self.session.cancel()
        self.session.cashier = cashier or self.default_cashier
        self.basket = OpenBasket("B" + secrets.token_hex(8), pos, self.clock())
        events.record(self.conn, pos, "opened", self.basket.id)
        return Answer(201, self.view(self.basket))

    def identify(
        self, pos: str, basket_id: str, card: str | None, from_reader: bool | None, phone: str | None
    ) -> Answer:
        basket = self._open(pos, basket_id)
        given = [
            name
            for name, value in (("card", card), ("from_reader", from_reader), ("phone", phone))
            if value not in (None, False)
        ]
        if len(given) != 1:
            raise PosApiError("invalid_request", _("give exactly one of card, from_reader or phone"))
        if phone is not None:  # head office finds the card of a customer who consented (the till online only)
            session = self.session
            if session.requester is None or not session.online():
                raise PosApiError(
                    "phone_not_available",
                    _("the till is offline: it cannot find a customer by phone number; scan or type the card"),
                )
            try:
                card, _masked = session.card_by_phone(phone)
            except TillError as exc:
                raise PosApiError("phone_not_found", str(exc)) from None
        if from_reader:
            if self.presented is None:
                raise PosApiError(
                    "no_card_on_reader",
                    _(
                        "no card is in the till's reader: insert the card, wait until it is read, then send this call "
                        "again"
                    ),
                )
            card = self.presented
        if self.session.basket.points_used:
            raise PosApiError(
                "basket_refused", _("points were already redeemed with another card: cancel the basket to change card")
            )
        balance = self.session.lookup_card(card)  # refused cards raise before anything changes
        self.session.set_card(balance)
        events.record(self.conn, pos, "identified", basket.id, detail=balance.masked)
        return Answer(200, self.view(basket))

    def evaluate(self, pos: str, basket_id: str, lines_in: list) -> Answer:
        basket = self._open(pos, basket_id)
        lines = []
        for n, li in enumerate(lines_in, start=1):
            gross = li.quantity * li.unit_cents
            if li.discount_cents > gross:
                raise PosApiError(
                    "invalid_request",
                    _("line {n}: the discount {discount} is more than the line's price {gross}").format(
                        n=n, discount=format_money(li.discount_cents), gross=format_money(gross)
                    ),
                )
            try:
                lines.append(
                    make_line(
                        li.gtin,
                        li.quantity,
                        li.unit_cents,
                        li.category,
                        li.label or "",
                        li.discount_cents,
                        vat_rate=li.vat_rate,
                    )
                )  # kept on the ticket's line
            except TicketError as exc:
                raise PosApiError("invalid_request", str(exc).replace("line 1 (", f"line {n} (", 1)) from None
        total = sum(line.total_cents for line in lines)
        if total > MAX_AMOUNT_CENTS:
            raise PosApiError(
                "invalid_request",
                _("the basket's total {total} is past the limit of {limit}").format(
                    total=format_money(total), limit=format_money(MAX_AMOUNT_CENTS)
                ),
            )
        current = self.session.basket
        if current.tenders and lines != current.lines:
            raise PosApiError(
                "basket_refused",
                _(
                    "points were already redeemed on this basket: its lines cannot change now; cancel the basket "
                    "to change them"
                ),
            )
        current.lines[:] = lines
        basket.vat = [li.vat_rate for li in lines_in]
        return Answer(200, self.view(basket))

    def redeem(self, pos: str, basket_id: str, kind: str, points: int | None) -> Answer:
        basket = self._open(pos, basket_id)
        if not self.session.basket.lines:
            raise PosApiError("basket_refused", _("the basket is empty: send its lines (evaluate) first"))
        if kind == "points":
            if points is None:
                raise PosApiError("invalid_request", _("points: give how many points to redeem"))
            plan = self.session.redeem(points)
            result = {
                "kind": kind,
                "points": plan.points,
                "deduct_cents": plan.cents,
                "cheques": 0,
                "cheque_cents": 0,
                "note": plan.note,
            }
        else:
            issue = self.session.plan_cheques()
            self.session.issue_cheques()
            result = {
                "kind": kind,
                "points": issue.points,
                "deduct_cents": 0,
                "cheques": issue.count,
                "cheque_cents": issue.cents,
                "note": "",
            }
        events.record(self.conn, pos, f"redeemed {kind}", basket.id, detail=str(result["points"]))
        return Answer(200, {**result, "basket": self.view(basket)})

    def commit(self, pos: str, basket_id: str, pos_ticket: str, tenders_in: list) -> Answer:
        # Before the basket: a commit resent to a till restarted since still learns its ticket was closed.
        known = events.committed_as(self.conn, pos, pos_ticket)
        if known is not None:
            raise PosApiError(
                "pos_ticket_committed",
                _(
                    "POS ticket {pos_ticket} was already committed as ticket {ticket}: give each ticket its own number"
                ).format(pos_ticket=pos_ticket, ticket=known),
            )
        basket = self._open(pos, basket_id)
        session = self.session
        if not session.basket.lines:
            raise PosApiError("basket_refused", _("the basket is empty: send its lines (evaluate) first"))
        due, paid = session.basket.due_cents, sum(t.cents for t in tenders_in)
        if paid != due:
            raise PosApiError(
                "tenders_mismatch",
                _(
                    "the tenders pay {paid} but {due} is due (redeemed points already pay {deducted}): send tenders "
                    "that add up to what is due, change already given back"
                ).format(
                    paid=format_money(paid), due=format_money(due), deducted=format_money(session.basket.paid_cents)
                ),
            )
        before = list(session.basket.tenders)
        session.basket.tenders.extend(Tender(kind=t.kind, cents=t.cents) for t in tenders_in)
        try:
            closed = session.close(also=lambda conn, ticket: events.link(conn, pos, pos_ticket, ticket.id, basket.id))
        except BaseException:
            session.basket.tenders[:] = before
            raise
        self.basket = None
        ticket = closed.ticket
        return Answer(
            200,
            {
                "ticket": ticket.id,
                "pos_ticket": pos_ticket,
                "total_cents": ticket.total_cents,
                "points_earned": ticket.points_earned,
                "points_redeemed": ticket.points_redeemed,
                "balance": closed.balance.points if closed.balance else None,
                "receipt": _lines(closed.receipt),
                "control_slip": _lines(closed.control_slip) if closed.control_slip else None,
                "cheques": [_lines(c) for c in closed.cheques],
                "print_error": closed.print_error,
            },
        )

    def cancel(self, pos: str, basket_id: str) -> Answer:
        basket = self._open(pos, basket_id)
        self.session.cancel()
        self.basket = None
        events.record(self.conn, pos, "cancelled", basket.id)
        return Answer(200, {"basket": basket.id, "cancelled": True})

    def return_lines(self, pos: str, ticket_id: str, lines_in: list, tender: str) -> Answer:
        if self.basket is not None:
            raise PosApiError(
                "basket_open",
                _("basket {basket} is still open: commit or cancel it before a return").format(basket=self.basket.id),
            )
        picks: dict[int, int] = {}
        for pick in lines_in:
            picks[pick.line - 1] = picks.get(pick.line - 1, 0) + pick.quantity
        closed = self.session.return_lines(ticket_id, picks, tender, ask=self.online())
        ticket = closed.ticket
        events.record(self.conn, pos, "returned", None, ticket.id, detail=ticket_id)
        return Answer(
            200,
            {
                "ticket": ticket.id,
                "original": ticket_id,
                "total_cents": ticket.total_cents,
                "points_reversed": sum(e.points for e in ticket.points if e.kind == "reverse"),
                "receipt": _lines(closed.receipt),
            },
        )

    def reprint(self, pos: str, ticket_id: str) -> Answer:
        journal = self.session.journal
        kept = journal.conn.execute("SELECT 1 FROM receipts WHERE ticket_id = ?", (ticket_id,)).fetchone()
        if kept is None and journal.find_ticket(ticket_id) is None:
            raise PosApiError(
                "ticket_not_found",
                _("no ticket {ticket} in this till's journal: check the number at the foot of the receipt").format(
                    ticket=ticket_id
                ),
            )
        text = self.session.reprint(ticket_id)
        events.record(self.conn, pos, "reprinted", None, ticket_id)
        return Answer(200, {"ticket": ticket_id, "receipt": _lines(text)})

    def status(self) -> dict:
        return {
            "terminal": self.terminal,
            "online": bool(self.online()),
            "backlog": self.session.journal.backlog(),
            "rules_version": self.session.rules().version,
            "reader": self.reader_state(),
            "basket": self.basket.id if self.basket else None,
        }

    # -- what the POS shows ------------------------------------------------------------------------------------
    def view(self, basket: OpenBasket) -> dict:
        from ..sale import points_now

        session, current = self.session, self.session.basket
        lines: list[Line] = current.lines
        entries, version, _at = points_now(session.journal, lines, current.card) if lines else ([], None, None)
        by_line: list[list[dict]] = [[] for _ in lines]
        basket_rules = []
        for entry in entries:
            if entry.kind != "earn" or not entry.points:
                continue
            part = {"rule": entry.rule, "points": entry.points}
            (basket_rules if entry.line is None else by_line[entry.line]).append(part)
        card = None
        if current.card is not None:
            balance = cardstate.card_balance(session.journal.conn, current.card, self.online())
            known = session.balance
            card = {
                "masked": balance.masked,
                "first_name": known.first_name if known else balance.first_name,
                "tier": known.tier if known else balance.tier,
                "balance": balance.points - current.points_used,
                "balance_confirmed": balance.confirmed,
            }
        return {
            "basket": basket.id,
            "cashier": session.cashier,
            "card": card,
            "lines": [
                {
                    "line": n + 1,
                    "gtin": li.gtin,
                    "quantity": li.quantity,
                    "unit_cents": li.unit_cents,
                    "total_cents": li.total_cents,
                    "vat_rate": basket.vat[n] if n < len(basket.vat) else 0,
                    "points": sum(p["points"] for p in by_line[n]),
                    "rules": by_line[n],
                }
                for n, li in enumerate(lines)
            ],
            "basket_rules": basket_rules,
            "points": sum(e.points for e in entries if e.kind == "earn"),
            "offers": [
                {
                    "campaign": o.campaign,
                    "name": o.name,
                    "kind": o.kind,
                    "points": o.points,
                    "cheque_cents": o.cheque_cents,
                    "category": o.category,
                    "min_basket_cents": o.min_basket_cents,
                }
                for o in session.offers
            ],
            "total_cents": current.total_cents,
            "points_used": current.points_used,
            "deducted_cents": current.paid_cents,
            "due_cents": current.due_cents,
            "redeemable": self._redeemable(card) if card else None,
            "rules_version": version or session.rules().version,
        }

    def _redeemable(self, card: dict) -> dict:
        session = self.session
        rules = session.rules()
        most = min(card["balance"], session.basket.due_cents // rules.redemption.cents_per_point)
        points = cents = cheques = cheque_cents = 0
        if most > 0:
            try:
                plan = session.plan_redeem(most)
                points, cents = plan.points, plan.cents
            except (ProgrammeError, TillError):
                pass
        try:
            issue = session.plan_cheques()
            cheques, cheque_cents = issue.count, issue.cents
        except (ProgrammeError, TillError):
            pass
        return {"points": points, "cents": cents, "cheques": cheques, "cheque_cents": cheque_cents}
