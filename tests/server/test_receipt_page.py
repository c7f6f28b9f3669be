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
    assert "base : 1 point par euro" in page and "base: 1 point per euro" not in page  # the points, rule by rule
    refused = client.get(f"/r/{a.id}/{'A' * 22}")
    assert refused.status_code == 404
    assert "Ce lien de ticket est inconnu : vérifiez-le avec le QR code imprimé sur votre ticket." in text(refused)


def test_an_offer_waiting_says_its_condition(office, tickets, monkeypatch):
    """The customer reads what the till will ask: a category to buy, a basket to reach."""

    from programme.ticket import utc_now
    from server.analytics import aggregate, campaigns
    from server.analytics.campaigns import Campaign
    from server.analytics.segments import SegmentSpec

    from ..fixtures.headoffice import END, START

    office.conn.row_factory = None
    aggregate.refresh(office.conn)
    today = utc_now().date()
    common = dict(segment=SegmentSpec(start=START, end=END), starts=today, ends=today, control_per_mille=1, seed=1)
    campaigns.create(
        office.conn, Campaign(name="Big basket", kind="cheque", cheque_cents=500, min_basket_cents=3000, **common)
    )
    campaigns.create(office.conn, Campaign(name="Dairy", kind="bonus_points", points=150, category="dairy", **common))
    a = next(t for t in tickets.values() if t.card == CARDS["A"])
    client = office.app.test_client()
    french = text(client.get(receipt_link("", a)))
    assert "Big basket: un chèque fidélité de 5,00\u00a0€ pour un panier d'au moins 30,00\u00a0€ lors de" in french
    assert "Dairy: 150 points bonus pour un achat au rayon dairy lors de votre prochaine visite" in french
    monkeypatch.setenv("LOYALTY_LANG", "en")
    english = text(client.get(receipt_link("", a)))
    assert "Big basket: a loyalty cheque of €5.00 with a basket of at least €30.00 on your next visit" in english
    assert "Dairy: 150 bonus points for a purchase in dairy on your next visit" in english


def test_the_page_says_what_expires_when(office, tickets, monkeypatch):
    """The balance's points by expiry date, as the desk's statement counts them."""
    from server.desk import standing

    monkeypatch.setenv("LOYALTY_LANG", "en")
    a = next(t for t in tickets.values() if t.card == CARDS["A"])
    by_expiry = standing.standing(office.conn, [CARDS["A"]])["by_expiry"]
    assert by_expiry, "the known set's card A has points that expire"
    page = text(office.app.test_client().get(receipt_link("", a)))
    listed = page[page.index('id="expiring"') :]
    listed = listed[: listed.index("</ul>")]
    assert "When your points expire" in page
    assert [f"{e['points']} points on {e['expires_on']}" for e in by_expiry] == [
        item.split("</li>")[0] for item in listed.split("<li>")[1:]
    ]
