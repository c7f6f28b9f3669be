"""Head office's campaign offers, read the same way by the till and the server: the retained
message's shape, when an offer is in force for a card, and what it puts on a ticket.

Every entry an offer puts on a ticket is named `offer:<campaign id>` (`offer_rule`): the till
finds in its ledger that a card has used it, the server checks the claim against its campaigns,
and the campaign analysis counts it. An offer is used once per card: a `bonus_points` offer is a
basket bonus of the rules engine's step 7 (targeted offers) on the first ticket with eligible
spend; a `cheque` offer is a 0-point entry of that name, and the cheque's value is the campaign's.

An offer may have a condition (schema 2): a `category` (bonus points on a category) and a `min_basket_cents`
(a cheque above a basket threshold). Both count the same spend, `qualifying_cents`: the lines that earn points
(outside the rules' exclusions: tobacco, infant formula...), not capped by the loi Lang (books), of the offer's
category when it names one. The offer applies, once, to a ticket whose qualifying spend reaches
`max(1, min_basket_cents)`; the till applies it only then and the server refuses a claim of one that does not
(`unmet`). A category bonus is its points once, not per euro of the category: what head office's offer types
mean (server/analytics/offer_definitions.py).
Head office writes schema 1 when no offer has a condition, so a till that knows only schema 1 keeps decoding
them; a message with a condition is schema 2, which such a till refuses (keeping its previous offers) rather
than pay the offer on any basket.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

import msgspec

from .rules import Promotion, RuleSet
from .ticket import Line, PointsEntry

SCHEMA_VERSION = 2  # the newest this code writes and reads
SCHEMAS = (1, 2)  # 1: no conditions (category, min_basket_cents); 2: with them
RULE_PREFIX = "offer:"
KINDS = ("bonus_points", "cheque")
MAX_MIN_BASKET_CENTS = 100_000  # a threshold of 1,000.00 EUR at most
Category = Annotated[str, msgspec.Meta(min_length=1, max_length=40)]


class CampaignOffer(msgspec.Struct, frozen=True, kw_only=True):
    """One campaign's offer as published on `loyalty/v1/down/all/offers` (target cards only)."""

    campaign: Annotated[int, msgspec.Meta(gt=0)]
    name: str
    kind: Literal["bonus_points", "cheque"]
    starts: date
    ends: date
    points: Annotated[int, msgspec.Meta(ge=0)] = 0
    cheque_cents: Annotated[int, msgspec.Meta(ge=0)] = 0
    stores: list[str] = []  # empty: every store
    cards: list[str] = []
    category: Category | None = None  # only spend on this category counts (bonus points on a category)
    min_basket_cents: Annotated[int, msgspec.Meta(ge=0, le=MAX_MIN_BASKET_CENTS)] = 0  # least qualifying spend

    @property
    def rule(self) -> str:
        return offer_rule(self.campaign)

    @property
    def conditional(self) -> bool:
        return self.category is not None or self.min_basket_cents > 0


class OffersMessage(msgspec.Struct, frozen=True):
    schema: int
    offers: list[CampaignOffer]
    published_at: str | None = None


_decoder = msgspec.json.Decoder(OffersMessage)


def decode_offers(payload: bytes) -> OffersMessage:
    """The message, checked; raises ValueError saying what is wrong (the caller keeps its previous offers)."""
    try:
        message = _decoder.decode(payload)
    except msgspec.DecodeError as exc:
        raise ValueError(str(exc)) from None
    if message.schema not in SCHEMAS:
        raise ValueError(f"schema {message.schema} ({' or '.join(map(str, SCHEMAS))} expected)")
    for offer in message.offers:
        if offer.kind == "bonus_points" and offer.points <= 0:
            raise ValueError(f"campaign {offer.campaign}: a bonus points offer needs points above 0")
        if offer.kind == "cheque" and offer.cheque_cents <= 0:
            raise ValueError(f"campaign {offer.campaign}: a cheque offer needs cheque_cents above 0")
        if offer.ends < offer.starts:
            raise ValueError(f"campaign {offer.campaign}: ends {offer.ends} before it starts {offer.starts}")
    return message


def schema_of(offers) -> int:
    """The schema a message of these offers is written in: 1 unless one has a condition (older tills read 1)."""
    return 2 if any(o.conditional for o in offers) else 1


def offer_rule(campaign: int) -> str:
    return f"{RULE_PREFIX}{campaign}"


def campaign_of(rule: str) -> int | None:
    """The campaign id of an entry named `offer:<campaign id>`, else None (a rules file's offers have names)."""
    if rule.startswith(RULE_PREFIX):
        rest = rule[len(RULE_PREFIX) :]
        if rest.isdigit():
            return int(rest)
    return None


def in_force(offer: CampaignOffer, day: date, store: str) -> bool:
    """The campaign's dates include `day` (in the rules' time zone) and the store is one of its stores
    (none listed: all)."""
    return offer.starts <= day <= offer.ends and (not offer.stores or store in offer.stores)


def qualifying_cents(offer: CampaignOffer, rules: RuleSet, lines: list[Line]) -> int:
    """The spend that counts toward the offer's condition: lines with spend that earn points (not excluded by
    category or article), whose advantages are not capped (loi Lang), of the offer's category if it names one."""
    categories, articles = set(rules.exclusions.categories), set(rules.exclusions.articles)
    capped = {category for cap in rules.caps for category in cap.categories}
    return sum(
        li.total_cents
        for li in lines
        if li.total_cents > 0
        and li.category not in categories
        and li.gtin not in articles
        and li.category not in capped
        and (offer.category is None or li.category == offer.category)
    )


def least_cents(offer: CampaignOffer) -> int:
    """The qualifying spend the offer needs: its threshold, and some spend that earns points in any case."""
    return max(1, offer.min_basket_cents)


def unmet(offer: CampaignOffer, rules: RuleSet, lines: list[Line]) -> str | None:
    """Why the basket does not meet the offer's condition, for head office (None: it does)."""
    found, least = qualifying_cents(offer, rules, lines), least_cents(offer)
    if found >= least:
        return None
    c = offer.campaign
    if offer.category is None and least == 1:
        return f"campaign {c} needs spend that earns points: the ticket has none"
    if least == 1:
        return f"campaign {c} is on {offer.category}: the ticket has no line of {offer.category} that earns points"
    if offer.category is None:
        return f"campaign {c} needs a basket of {_eur(least)} that earns points: the ticket's is {_eur(found)}"
    return f"campaign {c} needs {_eur(least)} of {offer.category} that earns points: the ticket has {_eur(found)}"


def applicable(offers: list[CampaignOffer], rules: RuleSet, lines: list[Line]) -> list[CampaignOffer]:
    """The offers whose condition the basket meets: the ones the till applies."""
    return [o for o in offers if unmet(o, rules, lines) is None]


def _eur(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d} EUR"


def as_promotion(offer: CampaignOffer, card: str) -> Promotion:
    """A bonus points offer as the rules engine's targeted offer: its points once the basket has eligible spend
    (at least its threshold; the category's share is `unmet`'s to check, before)."""
    return Promotion(
        id=str(offer.campaign),
        start=offer.starts,
        end=offer.ends,
        stores=list(offer.stores),
        basket_points=offer.points,
        basket_min_cents=least_cents(offer),
        cards=[card],
    )


def cheque_entry(offer: CampaignOffer) -> PointsEntry:
    """The ticket's record of a cheque offer: no points, the cheque's value is the campaign's."""
    return PointsEntry(kind="earn", rule=offer.rule, points=0)


def earn_with_offers(
    lines: list[Line],
    card: str | None,
    offers: list[CampaignOffer],
    *,
    rules: RuleSet,
    at: datetime,
    store: str,
    tier: str | None = None,
) -> list[PointsEntry]:
    """The ticket's earn entries as a till gives them: the rules' (programme.points.earn_points) with the card's
    offers whose condition the basket meets, a bonus points offer through the rules engine, a cheque offer as
    its 0-point `offer:<campaign id>` entry. The till (terminal.sale) and the generator both earn through it."""
    from .points import earn_points

    found = applicable(offers, rules, lines) if card else []
    bonus = tuple(as_promotion(o, card) for o in found if o.kind == "bonus_points") if card else ()
    points = earn_points(lines, card, rules=rules, at=at, store=store, tier=tier, offers=bonus)
    return points + [cheque_entry(o) for o in found if o.kind == "cheque"]


def describe(offer: CampaignOffer) -> str:
    """What the cashier reads on the card panel."""
    from .i18n import _, format_money

    fields = {
        "name": offer.name,
        "points": offer.points,
        "value": format_money(offer.cheque_cents),
        "category": offer.category,
        "least": format_money(offer.min_basket_cents),
    }
    bonus = offer.kind == "bonus_points"
    if offer.category is not None and offer.min_basket_cents:
        text = (
            _("offer {name}: +{points} points from {least} of {category}")
            if bonus
            else _("offer {name}: loyalty cheque {value} from {least} of {category}")
        )
    elif offer.category is not None:
        text = (
            _("offer {name}: +{points} points if the ticket has {category}")
            if bonus
            else _("offer {name}: loyalty cheque {value} if the ticket has {category}")
        )
    elif offer.min_basket_cents:
        text = (
            _("offer {name}: +{points} points from a basket of {least}")
            if bonus
            else _("offer {name}: loyalty cheque {value} from a basket of {least}")
        )
    else:
        text = (
            _("offer {name}: +{points} points on this ticket")
            if bonus
            else _("offer {name}: loyalty cheque {value} on this ticket")
        )
    return text.format(**fields)
