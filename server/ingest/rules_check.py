"""The server's points check: recompute each synced ticket with the rules version it names, and book
only what the rules give.

A till is not trusted with credits. A ticket whose earn entries the rules give back is booked as sent.
A difference is recorded in `discrepancies` (ticket, till's points, server's points, reason) and the
ledger credits the rules' figure, not the till's: the ticket itself keeps what the till sent. A ticket
the server cannot recompute (a rules version it does not know) has its earn points held in
`held_points` (server/ingest/held.py), not credited, until that version is known. Debits (redeem, reverse)
are always booked: holding one would let the points be spent twice.
The server knows the shipped default and every version recorded in its `rules_versions` table
(`loyalty rules publish --db`). The tables are in server.ingest.store.SCHEMA.
"""
from __future__ import annotations

import dataclasses
import logging
import sqlite3
from collections import Counter
from dataclasses import dataclass

from programme.errors import ProgrammeError, RulesError
from programme.engine import local_day, points_of
from programme.explain import context_of_ticket
from programme.points import default_rules
from programme.rules import RuleSet, parse_rules
from programme.ticket import PointsEntry, Ticket

from sync.codec import read_stored_ticket
from sync.events import log_event

from server.ingest.held import credit_held, hold, log as held_log
from server.ingest.offers_check import CampaignCache, offer_claims
from server.ingest.store_rows import ledger_rows
from server.storage.connection import Connection

@dataclass(frozen=True)
class Discrepancy:
    ticket_id: str
    till_points: int
    server_points: int | None
    reason: str
    # The earn entries head office credits instead of the till's (the rules' recompute); None when the
    # server could not recompute: the till's earn points are then held, not credited.
    credit: tuple[PointsEntry, ...] | None = None


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
        count = conn.execute("SELECT count(*) FROM rules_versions").fetchone()[0]
        self.grown = count != self._loaded_rows
        if self.grown:
            for version, text in conn.execute("SELECT version, toml FROM rules_versions"):
                if version not in self.by_version and version not in self.refused:
                    try:
                        self.by_version[version] = parse_rules(text, f"rules version {version}")
                    except RulesError as exc:  # recorded before a bound it is now past: its tickets' points are held
                        self.refused[version] = str(exc)
                        log_event(held_log, "rules_refused", logging.WARNING, version=version, reason=str(exc))
            self._loaded_rows = count
        self.campaigns.refresh(conn)
        return self


def record_version(conn: Connection, text: str, now: str) -> RuleSet:
    """Record a published rules version; the same version with other content is refused."""
    rules = parse_rules(text)
    row = conn.execute("SELECT toml FROM rules_versions WHERE version = ?", (rules.version,)).fetchone()
    if row and row[0] != text:
        raise RulesError(f"rules version {rules.version} is already recorded with other content: "
                         "a published version never changes; give the new rules a new version")
    conn.execute("INSERT OR IGNORE INTO rules_versions VALUES (?, ?, ?, ?)",
                 (rules.version, rules.effective_from.isoformat(), text, now))
    return rules


def _earned(entries) -> Counter:
    return Counter((e.line, e.rule, e.points) for e in entries if e.kind == "earn")


def check_ticket(catalog: RulesCatalog, ticket: Ticket, conn=None) -> Discrepancy | None:
    """None when the rules give exactly the till's earn entries.

    The offers the ticket claims (`offer:<campaign id>`) are checked against head office's campaigns
    (server/ingest/offers_check.py, which asks `conn` about earlier use); the accepted ones are given back."""
    till = sum(e.points for e in ticket.points if e.kind == "earn")
    if ticket.card is None:
        return None
    rules = catalog.by_version.get(ticket.rules_version)
    if rules is None and ticket.rules_version in catalog.refused:
        return Discrepancy(ticket.id, till, None, f"rules version {ticket.rules_version} is past a bound of these "
                                                  f"rules: {catalog.refused[ticket.rules_version]}")
    if rules is None:
        return Discrepancy(ticket.id, till, None, f"rules version {ticket.rules_version} is not known to the server: "
                                                  "record it with `loyalty rules publish FILE --db`")
    context, refused = context_of_ticket(ticket), []
    claims = offer_claims(ticket)
    if claims:
        promotions, cheques, refused = catalog.campaigns.judge(conn, ticket, claims,
                                                               local_day(rules, ticket.opened_at))
        context = dataclasses.replace(context, offers=promotions)
    server_entries = points_of(rules, ticket.lines, context)
    if claims:
        server_entries += cheques
    ours = sum(e.points for e in server_entries)
    theirs_by, ours_by = _earned(ticket.points), _earned(server_entries)
    if theirs_by == ours_by:
        return None
    extra, missing = sorted(theirs_by - ours_by, key=str), sorted(ours_by - theirs_by, key=str)

    def show(items):
        return ", ".join(f"{'basket' if line is None else f'line {line + 1}'} {rule} {points}"
                         for line, rule, points in items[:3]) or "nothing"

    head = (f"till gave {till} points, rules {rules.version} give {ours}" if till != ours
            else f"same total ({till}) but a different breakdown")
    if refused:
        head = "; ".join(refused) + "; " + head
    return Discrepancy(ticket.id, till, ours, f"{head}: till has {show(extra)}; rules give {show(missing)}",
                       tuple(e for e in server_entries if e.kind == "earn"))


def verdict(catalog: RulesCatalog, ticket: Ticket, conn=None) -> Discrepancy | None:
    """check_ticket, where a check that fails is itself a finding (held), never a stalled ingest."""
    try:
        return check_ticket(catalog, ticket, conn)
    except ProgrammeError as exc:
        return Discrepancy(ticket.id, sum(e.points for e in ticket.points if e.kind == "earn"), None,
                           f"the server could not recompute the points: {exc}")


def credited_rows(ticket: Ticket, found: Discrepancy | None) -> list[tuple]:
    """The ledger rows head office books for a ticket given its verdict (see the module's docstring)."""
    if found is None:
        return ledger_rows(ticket)
    return ledger_rows(ticket, credit=found.credit or ())


def book_points(conn: Connection, catalog: RulesCatalog, tickets: list[Ticket], now: str,
                known: dict[str, Discrepancy | None] | None, insert_ledger) -> int:
    """Check stored tickets inside the ingest transaction and book their ledger rows through
    `insert_ledger(rows)`; returns how many disagree.

    `known`: verdicts already reached for some tickets (server/ingest/precheck.py), by ticket id. A ticket
    that claims an offer is booked as soon as it is judged, so a later claim of the same offer in the
    same batch finds it used (server/ingest/offers_check.py asks the ledger)."""
    found, plain, known = [], [], known or {}
    for ticket in tickets:
        if not ticket.card:
            continue  # anonymous: nothing to check, nothing to book
        outcome = known[ticket.id] if ticket.id in known else verdict(catalog, ticket, conn)
        rows = credited_rows(ticket, outcome)
        if offer_claims(ticket):
            insert_ledger(rows)
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
        "detected_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [(d.ticket_id, cards[d.ticket_id], versions[d.ticket_id], d.till_points, d.server_points, d.reason, now)
         for d in found])
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
        versions).fetchall()
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
