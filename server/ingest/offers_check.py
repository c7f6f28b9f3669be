"""The server's check of head office's offers a till applied: each `offer:<campaign id>` entry on a
ticket is a claim, accepted only when the card is one of the campaign's targets, the ticket's day
(in its rules' time zone) is within its dates, its store is one of the campaign's (or it has none), and the card has
not used that offer on an earlier ticket, and the ticket's lines meet the offer's condition (some spend that
earns points; of its category, up to its basket threshold: programme.campaign_offers.unmet).

Accepted bonus points offers go to the rules engine as targeted offers for the card, so the
recompute gives the till's entry back; accepted cheque offers give their 0-point entry back. A
refused claim is not given back, so the ticket is a discrepancy whose reason says why.
Campaigns are held in memory and reloaded only when one is added: a ticket costs a dict look-up,
and only a ticket with a claim asks the ledger about earlier use. The campaigns live in the head-office
database, SQLite or PostgreSQL (server/analytics/campaigns.py); their tables come with the database's numbered
migrations (server/storage/migrations.py), so a database of any age has them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from programme.campaign_offers import RULE_PREFIX, CampaignOffer, as_promotion, campaign_of, cheque_entry, unmet
from programme.rules import Promotion, RuleSet
from programme.ticket import PointsEntry, Ticket


@dataclass(frozen=True)
class KnownCampaign:
    offer: CampaignOffer
    targets: frozenset[str]


def offer_claims(ticket: Ticket) -> list[tuple[int, PointsEntry]]:
    """The ticket's `offer:<campaign id>` entries (basket level), with their campaign ids."""
    return [
        (campaign, e)
        for e in ticket.points
        if e.line is None
        and e.kind == "earn"
        and e.rule.startswith(RULE_PREFIX)
        and (campaign := campaign_of(e.rule)) is not None
    ]


class CampaignCache:
    """Every campaign with its target cards, by id."""

    def __init__(self):
        self.by_id: dict[int, KnownCampaign] = {}
        self._mark: tuple | None = None

    def refresh(self, conn) -> CampaignCache:
        """Reload when a campaign was added since (one small query per batch otherwise)."""
        mark = tuple(conn.execute("SELECT count(*), max(id), max(stopped_at) FROM campaigns").fetchone())
        if mark == self._mark:
            return self
        targets: dict[int, set[str]] = {}
        for campaign, card in conn.execute("SELECT campaign_id, card FROM campaign_members WHERE grp = 'target'"):
            targets.setdefault(campaign, set()).add(card)
        found = {}
        for cid, name, kind, points, cheque_cents, starts, ends, stores, category, least in conn.execute(
            "SELECT id, name, kind, points, cheque_cents, starts, ends, stores, category, min_basket_cents "
            "FROM campaigns"
        ):
            offer = CampaignOffer(
                category=category or None,
                min_basket_cents=least,
                campaign=cid,
                name=name,
                kind=kind,
                points=points,
                cheque_cents=cheque_cents,
                starts=date.fromisoformat(starts),
                ends=date.fromisoformat(ends),
                stores=[s for s in stores.split(",") if s],
            )
            found[cid] = KnownCampaign(offer, frozenset(targets.get(cid, ())))
        self.by_id, self._mark = found, mark
        return self

    def judge(
        self, conn, ticket: Ticket, claims: list[tuple[int, PointsEntry]], day: date, rules: RuleSet
    ) -> tuple[tuple[Promotion, ...], list[PointsEntry], list[str]]:
        """The claims the server accepts (engine offers, cheque entries) and why the others are refused.
        `day`: the ticket's day in its rules' time zone (programme.engine.local_day), as the till chose it;
        `rules`: the ticket's rules version, whose exclusions and caps say which lines meet a condition."""
        promotions, cheques, refused = [], [], []
        card = ticket.card
        for campaign, entry in claims:
            why = self._refusal(conn, ticket, campaign, entry, day, rules)
            if why:
                refused.append(f"{entry.rule} refused: {why}")
                continue
            offer = self.by_id[campaign].offer
            if offer.kind == "cheque":
                cheques.append(cheque_entry(offer))
            else:
                promotions.append(as_promotion(offer, card))
        return tuple(promotions), cheques, refused

    def _refusal(
        self, conn, ticket: Ticket, campaign: int, entry: PointsEntry, day: date, rules: RuleSet
    ) -> str | None:
        known = self.by_id.get(campaign)
        if known is None:
            return f"campaign {campaign} is not known to the server"
        offer = known.offer
        if ticket.card not in known.targets:
            return f"card {ticket.card} is not a target of campaign {campaign}"
        if not offer.starts <= day <= offer.ends:
            return f"the ticket is of {day}, campaign {campaign} runs from {offer.starts} to {offer.ends}"
        if offer.stores and ticket.store not in offer.stores:
            return f"store {ticket.store} is not one of campaign {campaign}'s stores ({', '.join(offer.stores)})"
        if offer.kind == "cheque" and entry.points:
            return f"campaign {campaign} gives a loyalty cheque, not points"
        condition = unmet(offer, rules, ticket.lines)
        if condition:
            return condition
        if conn is None:  # checked outside ingest (a bench, a test): earlier use is not known
            return None
        first = conn.execute(
            "SELECT ticket_id FROM ledger WHERE card = ? AND rule = ? ORDER BY id LIMIT 1", (ticket.card, entry.rule)
        ).fetchone()
        if first is not None and first[0] != ticket.id:
            return f"card {ticket.card} already used this offer on ticket {first[0]}"
        return None
