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

from programme.campaign_offers import (
    RULE_PREFIX,
    CampaignOffer,
    as_promotion,
    campaign_of,
    cheque_entry,
    least_cents,
    qualifying_cents,
)
from programme.rules import Promotion, RuleSet
from programme.ticket import PointsEntry, Ticket


from server.ingest.reasons import Part, part


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
    ) -> tuple[tuple[Promotion, ...], list[PointsEntry], list[Part]]:
        """The claims the server accepts (engine offers, cheque entries) and why the others are refused (reason
        parts, server/ingest/reasons.py).
        `day`: the ticket's day in its rules' time zone (programme.engine.local_day), as the till chose it;
        `rules`: the ticket's rules version, whose exclusions and caps say which lines meet a condition."""
        promotions, cheques, refused = [], [], []
        card = ticket.card
        for campaign, entry in claims:
            why = self._refusal(conn, ticket, campaign, entry, day, rules)
            if why:
                refused.append(part("offer_refused", rule=entry.rule, why=why))
                continue
            offer = self.by_id[campaign].offer
            if offer.kind == "cheque":
                cheques.append(cheque_entry(offer))
            else:
                promotions.append(as_promotion(offer, card))
        return tuple(promotions), cheques, refused

    def _refusal(
        self, conn, ticket: Ticket, campaign: int, entry: PointsEntry, day: date, rules: RuleSet
    ) -> Part | None:
        known = self.by_id.get(campaign)
        if known is None:
            return part("campaign_unknown", campaign=campaign)
        offer = known.offer
        if ticket.card not in known.targets:
            return part("not_a_target", card=ticket.card, campaign=campaign)
        if not offer.starts <= day <= offer.ends:
            return part(
                "outside_dates",
                day=day.isoformat(),
                campaign=campaign,
                starts=offer.starts.isoformat(),
                ends=offer.ends.isoformat(),
            )
        if offer.stores and ticket.store not in offer.stores:
            return part("other_store", store=ticket.store, campaign=campaign, stores=", ".join(offer.stores))
        if offer.kind == "cheque" and entry.points:
            return part("cheque_not_points", campaign=campaign)
        condition = unmet_part(offer, rules, ticket)
        if condition:
            return condition
        if conn is None:  # checked outside ingest (a bench, a test): earlier use is not known
            return None
        first = conn.execute(
            "SELECT ticket_id FROM ledger WHERE card = ? AND rule = ? ORDER BY id LIMIT 1", (ticket.card, entry.rule)
        ).fetchone()
        if first is not None and first[0] != ticket.id:
            return part("used_before", card=ticket.card, ticket=first[0])
        return None


def unmet_part(offer: CampaignOffer, rules: RuleSet, ticket: Ticket) -> Part | None:
    """Why the basket does not meet the offer's condition (programme.campaign_offers.unmet's words), as a part."""
    found, least, c = qualifying_cents(offer, rules, ticket.lines), least_cents(offer), offer.campaign
    if found >= least:
        return None
    if offer.category is None and least == 1:
        return part("needs_earning_spend", campaign=c)
    if least == 1:
        return part("needs_category", campaign=c, category=offer.category)
    if offer.category is None:
        return part("needs_basket", campaign=c, least_cents=least, found_cents=found)
    return part("needs_category_spend", campaign=c, least_cents=least, category=offer.category, found_cents=found)
