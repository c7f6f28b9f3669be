"""The server's points check: recompute each synced ticket with the rules version it names.

The till's points are never overwritten: a difference, or a version the server does not know, is
recorded in `discrepancies` (ticket, till's points, server's points, reason) for head office.
The server knows the shipped default and every version recorded in its `rules_versions` table
(`loyalty rules publish --db`). Both tables are in server.store.SCHEMA.
"""
from __future__ import annotations

import dataclasses
import sqlite3
from collections import Counter
from dataclasses import dataclass

from programme.errors import ProgrammeError, RulesError
from programme.engine import local_day, points_of
from programme.explain import context_of_ticket
from programme.points import default_rules
from programme.rules import RuleSet, parse_rules
from programme.ticket import Ticket

from .offers_check import CampaignCache, offer_claims

@dataclass(frozen=True)
class Discrepancy:
    ticket_id: str
    till_points: int
    server_points: int | None
    reason: str


class RulesCatalog:
    """Rules versions by name, parsed once."""

    def __init__(self, versions: list[RuleSet] | None = None):
        self.by_version: dict[str, RuleSet] = {}
        for rules in [default_rules(), *(versions or [])]:
            self.by_version[rules.version] = rules
        self._loaded_rows = -1
        self.campaigns = CampaignCache()  # head office's offers, to check the ones tills claim

    def refresh(self, conn: sqlite3.Connection) -> RulesCatalog:
        """Add the versions recorded in the server's database (cheap when nothing changed)."""
        count = conn.execute("SELECT count(*) FROM rules_versions").fetchone()[0]
        if count != self._loaded_rows:
            for version, text in conn.execute("SELECT version, toml FROM rules_versions"):
                if version not in self.by_version:
                    self.by_version[version] = parse_rules(text, f"rules version {version}")
            self._loaded_rows = count
        self.campaigns.refresh(conn)
        return self


def record_version(conn: sqlite3.Connection, text: str, now: str) -> RuleSet:
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
    (server/offers_check.py, which asks `conn` about earlier use); the accepted ones are given back."""
    till = sum(e.points for e in ticket.points if e.kind == "earn")
    if ticket.card is None:
        return None
    rules = catalog.by_version.get(ticket.rules_version)
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
    return Discrepancy(ticket.id, till, ours, f"{head}: till has {show(extra)}; rules give {show(missing)}")


def record_discrepancies(conn: sqlite3.Connection, catalog: RulesCatalog, tickets: list[Ticket], now: str,
                         known: dict[str, Discrepancy | None] | None = None) -> int:
    """Check stored tickets inside the ingest transaction; returns how many disagree.

    `known`: verdicts already reached for some tickets (server/precheck.py), by ticket id."""
    found = []
    known = known or {}
    for ticket in tickets:
        if ticket.id in known:
            found.append(known[ticket.id])
            continue
        try:
            found.append(check_ticket(catalog, ticket, conn))
        except ProgrammeError as exc:  # a check that fails is itself a finding, never a stalled ingest
            found.append(Discrepancy(ticket.id, sum(e.points for e in ticket.points if e.kind == "earn"), None,
                                     f"the server could not recompute the points: {exc}"))
    found = [d for d in found if d is not None]
    cards = {t.id: t.card for t in tickets}
    versions = {t.id: t.rules_version for t in tickets}
    conn.executemany(
        "INSERT OR IGNORE INTO discrepancies (ticket_id, card, rules_version, till_points, server_points, reason, "
        "detected_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [(d.ticket_id, cards[d.ticket_id], versions[d.ticket_id], d.till_points, d.server_points, d.reason, now)
         for d in found])
    return len(found)
