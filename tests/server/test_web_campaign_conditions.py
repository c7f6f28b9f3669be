"""The campaigns page's form takes an offer's condition (a category, a least basket in euros): checked, bounded,
refused in words naming the field (French by default), stored and shown in the campaigns list and pushed with the
offer. SQLite and PostgreSQL."""

from __future__ import annotations

import msgspec
import pytest

from programme.i18n import format_money

from server.analytics import campaigns
from server.storage.connection import has_table

from ..fixtures.desk import error_of, text
from ..fixtures.headoffice import END, START

FORM = dict(
    name="Laitages",
    kind="bonus_points",
    value="150",
    starts="2026-01-01",
    ends="2026-12-31",
    start=START.isoformat(),
    end=END.isoformat(),
    control_percent="10",
)


def stored(office) -> int:
    return office.count("campaigns") if has_table(office.conn, "campaigns") else 0


def test_the_form_offers_the_condition_fields(office):
    page = text(office.client("head_office").get("/office/campaigns"))
    assert 'name="offer_category" id="c-offer-category" maxlength="40"' in page
    assert 'name="min_basket" id="c-min-basket"' in page
    assert "Rayon de l'offre (vide : tout article)" in page and "Panier minimum (EUR)" in page


def test_a_campaign_with_a_condition_is_stored_listed_and_pushed(office):
    client = office.client("head_office")
    response = office.post(client, "/office/campaigns", offer_category=" dairy ", min_basket="30,50", **FORM)
    assert response.status_code == 302, error_of(response)
    (made,) = campaigns.list_campaigns(office.conn)
    assert (made["category"], made["min_basket_cents"]) == ("dairy", 3050)
    page = text(client.get("/office/campaigns"))
    assert f"150 points bonus, pour un achat au rayon dairy, dès un panier de {format_money(3050)}</td>" in page
    (offer,) = msgspec.json.decode(campaigns.offers_payload(office.conn, START))["offers"]
    assert (offer["category"], offer["min_basket_cents"]) == ("dairy", 3050)
    # empty fields: any basket, as before
    response = office.post(client, "/office/campaigns", **{**FORM, "name": "Tous"})
    assert response.status_code == 302, error_of(response)
    found = {c["name"]: (c["category"], c["min_basket_cents"]) for c in campaigns.list_campaigns(office.conn)}
    assert found["Tous"] == ("", 0)


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"min_basket": "trente"}, "panier minimum 'trente' n'est pas un montant : écrivez des euros comme 12,50"),
        ({"min_basket": "-5"}, "panier minimum -5 est hors limites : donnez un montant de {range}"),
        ({"min_basket": "1000.01"}, "panier minimum 1000.01 est hors limites : donnez un montant de {range}"),
        (
            {"offer_category": "x" * 41},
            "rayon de l'offre 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...' est trop long : 40 caractères au plus",
        ),
    ],
)
def test_a_wrong_condition_is_refused_naming_the_field(office, changes, message):
    client = office.client("head_office")
    response = office.post(client, "/office/campaigns", **{**FORM, **changes})
    assert response.status_code == 400
    assert error_of(response) == message.format(range=f"{format_money(0)} à {format_money(100_000)}")
    assert stored(office) == 0


def test_the_form_needs_its_csrf_token(office):
    client = office.client("head_office")
    response = client.post("/office/campaigns", data={**FORM, "offer_category": "dairy", "min_basket": "30"})
    assert response.status_code == 400
    assert stored(office) == 0
