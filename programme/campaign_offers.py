"""Head office's campaign offers, read the same way by the till and the server: the retained
message's shape, when an offer is in force for a card, and what it puts on a ticket.

Every entry an offer puts on a ticket is named `offer:<campaign id>` (`offer_rule`): the till
finds in its ledger that a card has used it, the server checks the claim against its campaigns,
and the campaign analysis counts it. An offer is used once per card: a `bonus_points` offer is a
basket bonus of the rules engine's step 7 (targeted offers) on the first ticket with eligible
spend; a `cheque` offer is a 0-point entry of that name, and the cheque's value is the campaign's.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

import msgspec

from .rules import Promotion
from .ticket import PointsEntry

SCHEMA_VERSION = 1
RULE_PREFIX = "offer:"
KINDS = ("bonus_points", "cheque")


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

    @property
    def rule(self) -> str:
        return offer_rule(self.campaign)


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
    if message.schema != SCHEMA_VERSION:
        raise ValueError(f"schema {message.schema} (1 expected)")
    for offer in message.offers:
        if offer.kind == "bonus_points" and offer.points <= 0:
            raise ValueError(f"campaign {offer.campaign}: a bonus points offer needs points above 0")
        if offer.kind == "cheque" and offer.cheque_cents <= 0:
            raise ValueError(f"campaign {offer.campaign}: a cheque offer needs cheque_cents above 0")
        if offer.ends < offer.starts:
            raise ValueError(f"campaign {offer.campaign}: ends {offer.ends} before it starts {offer.starts}")
    return message


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


def as_promotion(offer: CampaignOffer, card: str) -> Promotion:
    """A bonus points offer as the rules engine's targeted offer: its points once the basket has eligible spend."""
    return Promotion(
        id=str(offer.campaign),
        start=offer.starts,
        end=offer.ends,
        stores=list(offer.stores),
        basket_points=offer.points,
        basket_min_cents=1,
        cards=[card],
    )


def cheque_entry(offer: CampaignOffer) -> PointsEntry:
    """The ticket's record of a cheque offer: no points, the cheque's value is the campaign's."""
    return PointsEntry(kind="earn", rule=offer.rule, points=0)


def describe(offer: CampaignOffer) -> str:
    """What the cashier reads on the card panel."""
    from .i18n import _, format_money

    if offer.kind == "bonus_points":
        return _("offer {name}: +{points} points on this ticket").format(name=offer.name, points=offer.points)
    return _("offer {name}: loyalty cheque {value} on this ticket").format(
        name=offer.name, value=format_money(offer.cheque_cents)
    )
