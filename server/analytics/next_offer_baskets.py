"""How likely a customer's basket is to meet an offer type's condition, for the next best offer (next_offer.py).

An offer with a condition pays only on a ticket that meets it (programme/campaign_offers.py): a cheque needs
its basket threshold of spend that earns points, a bonus on a category a line of that category that earns
points. The chance a customer's basket meets it is the share of their RECENT_TICKETS latest tickets (in the
profile's year before the choice, where every eligible customer has one) that would have met it, smoothed
toward everyone's share as a customer with few tickets says little:
(met + PRIOR_TICKETS x everyone's share) / (tickets + PRIOR_TICKETS). Spend that earns points is read as the
rules in force count it: lines above zero, not excluded (category or article) nor capped. Read from the
server's tickets and lines (either engine), never from the Parquet archive, which may not hold the latest
days yet; only the lines of each card's latest tickets are read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from programme.rules import RuleSet
from server.desk.rules_versions import rules_in_force
from server.storage.connection import Connection, has_table
from .profile import PERIOD_DAYS
from .value import card_owners

RECENT_TICKETS = 10  # a customer's latest tickets that say what their basket is like
RECENT_DAYS = PERIOD_DAYS  # looked for in these days before the choice (the profile's year)
PRIOR_TICKETS = 3  # everyone's share weighs as much as this many of the customer's own tickets


@dataclass(frozen=True)
class Chance:
    """A customer's chance to meet a condition: `met` of their `tickets` recent tickets did, everyone's `share`."""

    chance: float
    met: int
    tickets: int
    share: float


@dataclass
class Baskets:
    """Each customer's recent tickets, newest first, as category -> spend that earns points."""

    recent: dict[str, list[dict[str, int]]]
    _shares: dict[tuple[str | None, int], float] = field(default_factory=dict)

    def share(self, category: str | None, least: int) -> float:
        """Everyone's share of recent tickets that meet the condition (0 when no ticket is known)."""
        key = (category, least)
        if key not in self._shares:
            met = total = 0
            for tickets in self.recent.values():
                total += len(tickets)
                met += sum(meets(t, category, least) for t in tickets)
            self._shares[key] = met / total if total else 0.0
        return self._shares[key]

    def chance(self, customer: str, category: str | None, least: int) -> Chance:
        tickets = self.recent.get(customer, [])
        met = sum(meets(t, category, least) for t in tickets)
        share = self.share(category, least)
        return Chance((met + PRIOR_TICKETS * share) / (len(tickets) + PRIOR_TICKETS), met, len(tickets), share)


def meets(ticket: dict[str, int], category: str | None, least: int) -> bool:
    """Whether a ticket's spend that earns points (of `category`, if any) reaches `least` cents."""
    spend = sum(ticket.values()) if category is None else ticket.get(category, 0)
    return spend >= least


def _not_earning(rules: RuleSet) -> tuple[str, list]:
    """SQL excluding the lines whose spend does not count toward a condition (as campaign_offers.qualifying_cents)."""
    categories = sorted(set(rules.exclusions.categories) | {c for cap in rules.caps for c in cap.categories})
    articles = sorted(set(rules.exclusions.articles))
    where, args = "l.total_cents > 0", []
    if categories:
        where += f" AND l.category NOT IN ({','.join('?' * len(categories))})"
        args += categories
    if articles:
        where += f" AND l.gtin NOT IN ({','.join('?' * len(articles))})"
        args += articles
    return where, args


def recent_baskets(conn: Connection, end: date, rules: RuleSet | None = None) -> Baskets:
    """Every customer's (registered customer's cards as one, as the profiles) latest RECENT_TICKETS tickets
    in the RECENT_DAYS up to `end` included, with their spend that earns points under `rules` (those in force
    on `end` when not given) per category."""
    if not has_table(conn, "tickets"):
        return Baskets({})
    rules = rules_in_force(conn, end) if rules is None else rules
    low, high = (end - timedelta(days=RECENT_DAYS - 1)).isoformat(), (end + timedelta(days=1)).isoformat()
    # each card's latest tickets (a customer's latest are among their cards' latest)
    recent_sql = (
        "SELECT id, card, closed_at FROM (SELECT id, card, closed_at, ROW_NUMBER() OVER "
        "(PARTITION BY card ORDER BY closed_at DESC, id DESC) AS n FROM tickets "
        "WHERE card IS NOT NULL AND closed_at >= ? AND closed_at < ?) latest WHERE n <= ?"
    )
    owners = card_owners(conn)
    seen: dict[str, list[tuple[str, str]]] = {}
    for ticket_id, card, closed_at in conn.execute(recent_sql, (low, high, RECENT_TICKETS)):
        owner = owners.get(card)
        seen.setdefault(f"customer:{owner}" if owner is not None else card, []).append((closed_at, ticket_id))
    kept: dict[str, dict[str, int]] = {}
    recent: dict[str, list[dict[str, int]]] = {}
    for key, tickets in seen.items():
        latest = sorted(tickets, reverse=True)[:RECENT_TICKETS]
        recent[key] = [kept.setdefault(ticket_id, {}) for _, ticket_id in latest]
    where, args = _not_earning(rules)
    for ticket_id, category, cents in conn.execute(
        f"SELECT l.ticket_id, l.category, sum(l.total_cents) FROM ({recent_sql}) r JOIN lines l ON l.ticket_id = r.id "
        f"WHERE {where} GROUP BY l.ticket_id, l.category",
        (low, high, RECENT_TICKETS, *args),
    ):
        spend = kept.get(ticket_id)
        if spend is not None:
            spend[category] = int(cents)
    return Baskets(recent)
