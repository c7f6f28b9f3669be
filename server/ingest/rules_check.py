"""The server's points check: recompute each synced ticket with the rules version it names, and book
only what the rules give.

A till is not trusted with credits. A ticket whose earn entries the rules give back is booked as sent.
A difference is recorded in `discrepancies` (ticket, till's points, server's points, reason) and the
ledger credits the rules' figure, not the till's: the ticket itself keeps what the till sent. A ticket
the server cannot recompute (a rules version it does not know) has its earn points held in
`held_points` (server/ingest/held.py), not credited, until that version is known. Debits (redeem, reverse)
are always booked: holding one would let the points be spent twice.
The card's tier is head office's, not the till's: a ticket is recomputed with the tier the server's own
tickets give the card at the ticket's time (`tier_at`); a till that claimed another tier is a discrepancy.
A return's points given back (`refund: points tender of ...`) are not the rules' to give: they are credited up
to what the original ticket took as a tender, all its returns together (`check_refunds`).
The server knows the shipped default and every version recorded in its `rules_versions` table
(`loyalty rules publish --db`; server.desk.rules_versions). The tables are in server.storage.ticket_schema.
"""

from __future__ import annotations

import dataclasses
import logging
from bisect import bisect_left

import msgspec
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from programme.errors import ProgrammeError, RulesError
from programme.engine import context_of_entries, local_day, points_of
from programme.explain import context_of_ticket
from programme.ledger import TIER_WINDOW, tier_status
from programme.points import default_rules
from programme.returns import REFUND_PREFIX, points_tendered
from programme.rules import RuleSet
from programme.ticket import PointsEntry, Ticket

from sync.codec import read_stored_ticket
from sync.events import log_event

from server.desk.lots import when
from server.ingest.held import credit_held, hold, log as held_log
from server.ingest.offers_check import CampaignCache, offer_claims
from server.ingest.reasons import Part, english, part, to_json
from server.desk.rules_versions import recorded_versions, version_count
from server.ingest.store_rows import chunks, ledger_rows
from server.storage.connection import Connection

TIER_HISTORY = TIER_WINDOW * 2 + timedelta(days=1)  # back to the window of the last tier review


@dataclass(frozen=True)
class Discrepancy:
    ticket_id: str
    till_points: int
    server_points: int | None
    reason: str
    # The earn entries head office credits instead of the till's (the rules' recompute); None when the
    # server could not recompute: the till's earn points are then held, not credited.
    credit: tuple[PointsEntry, ...] | None = None
    # The reason as codes and parameters (server/ingest/reasons.py): pages show it in the reader's language.
    parts: list[Part] | None = dataclasses.field(default=None, hash=False)

    @classmethod
    def of(cls, ticket_id, till_points, server_points, parts: list[Part], credit=None) -> Discrepancy:
        """A discrepancy whose reason is `parts`, its text their English."""
        return cls(ticket_id, till_points, server_points, english(parts), credit, parts)


class RulesCatalog:
    """Rules versions by name, parsed once."""

    def __init__(self, versions: list[RuleSet] | None = None):
        self.by_version: dict[str, RuleSet] = {}
        for rules in [default_rules(), *(versions or [])]:
            self.by_version[rules.version] = rules
        self._loaded_rows = -1
        self.refused: dict[str, str] = {}  # recorded versions that no longer pass parse_rules, and why
        self.grown = False  # versions were added by the last refresh (held points may be verifiable now)
        self.campaigns = CampaignCache()  # head office's offers, to check the ones tills claim

    def refresh(self, conn: Connection) -> RulesCatalog:
        """Add the versions recorded in the server's database (cheap when nothing changed)."""
        count = version_count(conn)
        self.grown = count != self._loaded_rows
        if self.grown:
            for version, parsed in recorded_versions(conn, skip=self.by_version.keys() | self.refused.keys()):
                if isinstance(parsed, RulesError):  # recorded before a bound it is now past: its points are held
                    self.refused[version] = str(parsed)
                    log_event(held_log, "rules_refused", logging.WARNING, version=version, reason=str(parsed))
                else:
                    self.by_version[version] = parsed
            self._loaded_rows = count
        self.campaigns.refresh(conn)
        return self


class TierBook:
    """Cards' eligible spend per ticket as head office holds it, to know their tier at a ticket's time: read once
    for a batch's cards (one query per 500 cards and rules version), or a card at a time when asked."""

    def __init__(self, conn):
        self.conn = conn
        self.spends: dict[tuple[str, str], list[tuple[datetime, int]]] = {}  # (rules version, card) -> by time

    def prefetch(self, rules: RuleSet, cards: list[str], since: datetime) -> None:
        categories = list(rules.exclusions.categories) or [""]
        articles = list(rules.exclusions.articles) or [""]
        for chunk in chunks(sorted(set(cards))):
            found: dict[str, list[tuple[datetime, int]]] = {card: [] for card in chunk}
            for card, closed, cents in self.conn.execute(
                f"SELECT t.card, t.closed_at, sum(l.total_cents) FROM tickets t JOIN lines l ON l.ticket_id = t.id "
                f"WHERE t.card IN ({', '.join('?' * len(chunk))}) AND t.closed_at > ? "
                f"AND l.category NOT IN ({', '.join('?' * len(categories))}) "
                f"AND l.gtin NOT IN ({', '.join('?' * len(articles))}) GROUP BY t.id, t.card, t.closed_at",
                (*chunk, since.astimezone(timezone.utc).isoformat(), *categories, *articles),
            ).fetchall():
                if cents > 0:
                    found[card].append((when(closed), int(cents)))
            for card, spends in found.items():
                self.spends[(rules.version, card)] = sorted(spends)

    def tier(self, rules: RuleSet, card: str, at: datetime) -> str | None:
        """The card's tier at `at` from its tickets closed before `at` (the same rolling spend and review as the
        desk's standing, programme.ledger.tier_status)."""
        if not rules.tiers:
            return None
        if (rules.version, card) not in self.spends:
            self.prefetch(rules, [card], at - TIER_HISTORY)
        spends = self.spends[(rules.version, card)]
        before = spends[: bisect_left(spends, (at,))]  # sorted by time: closed before `at`
        if sum(cents for _, cents in before) < min(t.min_spend_cents for t in rules.tiers):
            return None  # not even all of it together reaches the first tier
        tier = tier_status(rules, before, at)
        return tier.name if tier else None


def tier_at(conn, rules: RuleSet, card: str, at: datetime) -> str | None:
    """The card's tier as head office knows it at `at` (TierBook.tier, for one card)."""
    return TierBook(conn).tier(rules, card, at)


def tier_book(conn, catalog: RulesCatalog, tickets: list[Ticket]) -> TierBook:
    """A TierBook holding the spends of the batch's cards, for the rules versions that have tiers."""
    book = TierBook(conn)
    by_version: dict[str, list[Ticket]] = {}
    for ticket in tickets:
        if ticket.card:
            by_version.setdefault(ticket.rules_version, []).append(ticket)
    for version, some in by_version.items():
        rules = catalog.by_version.get(version)
        if rules is not None and rules.tiers:
            book.prefetch(rules, [t.card for t in some], min(t.opened_at for t in some) - TIER_HISTORY)
    return book


def claimed_tier_holds(catalog: RulesCatalog, ticket: Ticket, conn, tiers: TierBook | None = None) -> bool:
    """The tier the till used is the one head office knows for the card then (a prechecked verdict stands)."""
    rules = catalog.by_version.get(ticket.rules_version)
    if conn is None or rules is None or not ticket.card or not rules.tiers:
        return True
    claimed, _ = context_of_entries(ticket.points)
    claimed = claimed if claimed in {t.name for t in rules.tiers} else None
    return claimed == (tiers or TierBook(conn)).tier(rules, ticket.card, ticket.opened_at)


def _earned(entries) -> Counter:
    """The earn entries compared: a 0-point tier or segment claim alone changes no point, so it is not a finding
    (a claim that changes points shows in the points it gave)."""
    return Counter(
        (e.line, e.rule, e.points)
        for e in entries
        if e.kind == "earn"
        and not is_refund(e)
        and not (e.points == 0 and e.line is None and e.rule.startswith(("tier:", "segment:")))
    )


def is_refund(entry: PointsEntry) -> bool:
    """A return's points part given back (programme.returns.refund_rule): not the rules' to give, checked apart."""
    return entry.kind == "earn" and entry.rule.startswith(REFUND_PREFIX)


def check_refunds(conn, ticket: Ticket) -> tuple[tuple[PointsEntry, ...], list[Part]]:
    """A return's refund entries as head office credits them, and why any is cut: all returns of a ticket give
    back at most the points it took as a tender (its original, as head office holds it; none credited without)."""
    credited, reasons = [], []
    for entry in (e for e in ticket.points if is_refund(e)):
        original_id = entry.rule[len(REFUND_PREFIX) :]
        row = conn.execute("SELECT payload FROM tickets WHERE id = ?", (original_id,)).fetchone()
        if row is None:
            reasons.append(part("refund_unheld", points=entry.points, original=original_id))
            credited.append(msgspec.structs.replace(entry, points=0))
            continue
        taken = points_tendered(read_stored_ticket(bytes(row[0])))
        before = int(
            conn.execute(
                "SELECT coalesce(sum(points), 0) FROM ledger WHERE rule = ? AND ticket_id <> ?", (entry.rule, ticket.id)
            ).fetchone()[0]
        )
        allowed = max(taken - before, 0)
        if entry.points > allowed:
            reasons.append(
                part(
                    "refund_cut", points=entry.points, original=original_id, taken=taken, before=before, allowed=allowed
                )
            )
        credited.append(msgspec.structs.replace(entry, points=min(entry.points, allowed)))
    return tuple(credited), reasons


def check_ticket(catalog: RulesCatalog, ticket: Ticket, conn=None, tiers: TierBook | None = None) -> Discrepancy | None:
    """None when the rules give exactly the till's earn entries.

    The offers the ticket claims (`offer:<campaign id>`) are checked against head office's campaigns
    (server/ingest/offers_check.py, which asks `conn` about earlier use); the accepted ones are given back."""
    till = sum(e.points for e in ticket.points if e.kind == "earn" and not is_refund(e))
    if ticket.card is None:
        return None
    refunds, cut = check_refunds(conn, ticket) if conn is not None else ((), [])
    rules = catalog.by_version.get(ticket.rules_version)
    if rules is None:
        return _unknown_version(catalog, ticket, till)
    server_entries, refused = _recompute(catalog, rules, ticket, conn, tiers)
    ours = sum(e.points for e in server_entries)
    theirs_by, ours_by = _earned(ticket.points), _earned(server_entries)
    if theirs_by == ours_by and not cut:
        return None
    credit = tuple(e for e in server_entries if e.kind == "earn") + refunds
    if theirs_by == ours_by:
        return Discrepancy.of(ticket.id, till, ours, cut, credit)
    extra, missing = sorted(theirs_by - ours_by, key=str), sorted(ours_by - theirs_by, key=str)
    head = (
        part("points_differ", till=till, version=rules.version, ours=ours)
        if till != ours
        else part("breakdown_differs", till=till)
    )
    return Discrepancy.of(
        ticket.id,
        till,
        ours,
        [*refused, part("breakdown", head=head, extra=_show(extra), missing=_show(missing)), *cut],
        credit,
    )


def _unknown_version(catalog: RulesCatalog, ticket: Ticket, till: int) -> Discrepancy:
    """A ticket of a rules version the server cannot compute with: its earn points are held."""
    if ticket.rules_version in catalog.refused:
        return Discrepancy.of(
            ticket.id,
            till,
            None,
            [part("rules_past_bound", version=ticket.rules_version, error=catalog.refused[ticket.rules_version])],
        )
    return Discrepancy.of(ticket.id, till, None, [part("rules_unknown", version=ticket.rules_version)])


def _recompute(
    catalog: RulesCatalog, rules: RuleSet, ticket: Ticket, conn, tiers: TierBook | None
) -> tuple[list[PointsEntry], list[Part]]:
    """The ticket's entries as the rules give them, with the tier head office knows for the card and the offers
    it accepts; and why any claimed offer is refused."""
    context, refused = context_of_ticket(ticket), []
    if conn is not None and rules.tiers:  # the tier head office knows, not the one the till claims
        context = dataclasses.replace(
            context, tier=(tiers or TierBook(conn)).tier(rules, ticket.card, ticket.opened_at)
        )
    claims = offer_claims(ticket)
    if claims:
        promotions, cheques, refused = catalog.campaigns.judge(
            conn, ticket, claims, local_day(rules, ticket.opened_at), rules
        )
        context = dataclasses.replace(context, offers=promotions)
    server_entries = points_of(rules, ticket.lines, context)
    if claims:
        server_entries += cheques
    return server_entries, refused


def _show(items) -> list[Part]:
    """The first three (line, rule, points) of a difference, as a reason shows them."""
    return [
        part("basket_item", rule=rule, points=points)
        if line is None
        else part("line_item", line=line + 1, rule=rule, points=points)
        for line, rule, points in items[:3]
    ]


def verdict(catalog: RulesCatalog, ticket: Ticket, conn=None, tiers: TierBook | None = None) -> Discrepancy | None:
    """check_ticket, where a check that fails is itself a finding (held), never a stalled ingest."""
    try:
        return check_ticket(catalog, ticket, conn, tiers)
    except ProgrammeError as exc:
        return Discrepancy.of(
            ticket.id,
            sum(e.points for e in ticket.points if e.kind == "earn"),
            None,
            [part("not_recomputed", error=str(exc))],
        )


def credited_rows(ticket: Ticket, found: Discrepancy | None) -> list[tuple]:
    """The ledger rows head office books for a ticket given its verdict (see the module's docstring)."""
    if found is None:
        return ledger_rows(ticket)
    return ledger_rows(ticket, credit=found.credit or ())


def book_points(
    conn: Connection,
    catalog: RulesCatalog,
    tickets: list[Ticket],
    now: str,
    known: dict[str, Discrepancy | None] | None,
    insert_ledger,
) -> int:
    """Check stored tickets inside the ingest transaction and book their ledger rows through
    `insert_ledger(rows)`; returns how many disagree.

    `known`: verdicts already reached for some tickets (server/ingest/precheck.py), by ticket id. A ticket
    that claims an offer is booked as soon as it is judged, so a later claim of the same offer in the
    same batch finds it used (server/ingest/offers_check.py asks the ledger)."""
    found, plain, known = [], [], known or {}
    tiers = tier_book(conn, catalog, tickets)
    for ticket in tickets:
        if not ticket.card:
            continue  # anonymous: nothing to check, nothing to book
        outcome = (
            known[ticket.id]
            if ticket.id in known and claimed_tier_holds(catalog, ticket, conn, tiers)
            else verdict(catalog, ticket, conn, tiers)
        )
        rows = credited_rows(ticket, outcome)
        if offer_claims(ticket) or any(is_refund(e) for e in ticket.points):
            insert_ledger(rows)  # booked now: a later claim or refund of the batch sees it
        else:
            plain.extend(rows)
        if outcome is not None:
            found.append(outcome)
    insert_ledger(plain)
    if not found:
        return 0
    cards = {t.id: t.card for t in tickets}
    versions = {t.id: t.rules_version for t in tickets}
    conn.executemany(
        "INSERT OR IGNORE INTO discrepancies (ticket_id, card, rules_version, till_points, server_points, reason, "
        "detected_at, reason_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                d.ticket_id,
                cards[d.ticket_id],
                versions[d.ticket_id],
                d.till_points,
                d.server_points,
                d.reason,
                now,
                to_json(d.parts),
            )
            for d in found
        ],
    )
    hold(conn, [(d, cards[d.ticket_id], versions[d.ticket_id]) for d in found if d.credit is None], now)
    return len(found)


def release_held(conn, catalog, now: str, insert_ledger) -> int:
    """Credit the held tickets whose rules version is known now; returns how many were released.

    Inside the ingest transaction. Each is recomputed: the rules' figure is credited (the till's, when
    they agree). A ticket still not computable stays held."""
    versions = list(catalog.by_version)
    pending = conn.execute(
        f"SELECT h.ticket_id, t.payload FROM held_points h JOIN tickets t ON t.id = h.ticket_id "
        f"WHERE h.released_at IS NULL AND h.rules_version IN ({','.join('?' * len(versions))}) ORDER BY h.ticket_id",
        versions,
    ).fetchall()
    released = 0
    for ticket_id, payload in pending:
        ticket = read_stored_ticket(bytes(payload))
        outcome = verdict(catalog, ticket, conn)
        if outcome is not None and outcome.credit is None:
            continue
        credit = tuple(e for e in ticket.points if e.kind == "earn") if outcome is None else outcome.credit
        credit_held(conn, ticket, credit, now, insert_ledger)
        released += 1
    return released
