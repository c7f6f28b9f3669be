"""The receipt's page (no log-in, a signed link) on SQLite and PostgreSQL: the ticket as printed, its points,
the balance; any other token, or an unknown ticket, gets the same 404."""

from __future__ import annotations

import pytest

from programme.receipt_link import link_token, receipt_link
from programme.ticket import ticket_hash

from ..fixtures.desk import text
from ..fixtures.headoffice import CARDS, known_tickets

NOT_KNOWN = "This receipt link is not known: check it against the QR code on your receipt."


@pytest.fixture
def tickets():
    return {t.id: t for t in known_tickets()}


def test_the_link_opens_the_ticket_without_log_in(office, tickets, monkeypatch):
    monkeypatch.setenv("LOYALTY_LANG", "en")
    a = next(t for t in tickets.values() if t.card == CARDS["A"])
    client = office.app.test_client()
    response = client.get(receipt_link("", a))
    assert response.status_code == 200
    page = text(response)
    assert 'id="total">€' in page and "Your receipt" in page and "Loyalty card *********" + CARDS["A"][-4:] in page
    assert "base: 1 point per euro" in page and 'id="balance">' in page
    assert "No offer waiting right now." in page
    assert CARDS["A"] not in page and "Customer A" not in page  # nothing the receipt did not show


def test_any_other_link_is_not_found(office, tickets, monkeypatch):
    monkeypatch.setenv("LOYALTY_LANG", "en")
    first, second = list(tickets.values())[:2]
    client = office.app.test_client()
    for url in (
        f"/r/{first.id}/{link_token(second)}",
        f"/r/{first.id}/{ticket_hash(first)[:22]}",
        f"/r/S009-T01-00000001/{link_token(first)}",
        f"/r/{first.id}/{'A' * 40}",
        f"/r/{'S' * 80}/x",
    ):
        response = client.get(url)
        assert response.status_code == 404, url
        assert NOT_KNOWN in text(response)


def test_an_anonymous_ticket_shows_no_card(office, tickets):
    anonymous = next(t for t in tickets.values() if t.card is None)
    page = text(office.app.test_client().get(receipt_link("", anonymous)))
    assert 'id="total"' in page and 'id="balance"' not in page


def test_the_page_and_its_refusal_speak_french_by_default(office, tickets):
    """What a customer in a French store reads: the page in French, and the unknown link's refusal too."""
    a = next(t for t in tickets.values() if t.card == CARDS["A"])
    client = office.app.test_client()
    page = text(client.get(receipt_link("", a)))
    assert "Votre ticket" in page and "Carte de fidélité *********" + CARDS["A"][-4:] in page
    assert "Votre solde" in page and "Aucune offre en attente pour le moment." in page
    refused = client.get(f"/r/{a.id}/{'A' * 22}")
    assert refused.status_code == 404
    assert "Ce lien de ticket est inconnu : vérifiez-le avec le QR code imprimé sur votre ticket." in text(refused)
