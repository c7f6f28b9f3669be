"""Head office's points check reasons are stored as codes with their parameters beside their English text, and
shown in the reader's language on the ticket page; the text stays English for operators and the JSON API, and
a row without its parts (written before them) shows its text."""

from __future__ import annotations

import json
import re

import pytest

from server.analytics import aggregate
from terminal.sale import sell

from ..fixtures.desk import text
from .test_offers_check import LINES, TODAY, create, ingest, till


def page_reason(office, ticket_id: str, accept: str) -> str:
    page = text(office.client("head_office").get(f"/office/tickets/{ticket_id}", headers={"Accept-Language": accept}))
    found = re.search(r"<dt>(?:Points check|Contrôle des points)</dt><dd>(.*?)</dd>", page, re.S)
    assert found, page
    return found.group(1).replace("\u202f", " ").replace("\xa0", " ")


@pytest.fixture
def forged(office, tmp_path):
    """A till that ignores an offer's category and basket threshold: both claims refused at ingest."""
    from server.analytics import campaigns

    conn = office.conn
    conn.row_factory = None
    aggregate.refresh(conn)
    dairy = create(conn, name="Dairy", kind="bonus_points", points=250, cheque_cents=0, category="dairy")
    cheque = create(conn, name="Big basket", min_basket_cents=3000)
    card = conn.execute(
        "SELECT min(card) FROM campaign_members WHERE campaign_id = ? AND grp = 'target'", (dairy,)
    ).fetchone()[0]
    careless = till(tmp_path, "S001-T06", campaigns.offers_payload(conn, TODAY))
    try:
        with careless.conn:
            careless.conn.execute("UPDATE offers SET category = '', min_basket_cents = 0")
        ticket = sell(careless, LINES, card)
        ingest(office.db_path, ticket)
    finally:
        careless.close()
    return ticket, dairy, cheque


def test_the_ticket_page_shows_the_points_check_in_french(office, forged):
    ticket, dairy, cheque = forged
    base = ticket.points_earned - 250
    assert page_reason(office, ticket.id, "fr-FR,fr;q=0.9") == (
        f"offre de la campagne {dairy} refusée : la campagne {dairy} porte sur le rayon dairy : le ticket n'a "
        f"aucune ligne du rayon dairy qui gagne des points ; offre de la campagne {cheque} refusée : la campagne "
        f"{cheque} demande un panier de 30,00 € qui gagne des points : celui du ticket fait 15,00 € ; la caisse a "
        f"donné {base + 250} points, les règles 2026.1 en donnent {base} : la caisse a panier offre de la "
        f"campagne {dairy} 250, panier offre de la campagne {cheque} 0 ; les règles donnent rien"
    )


def test_the_ticket_page_shows_the_points_check_in_english_and_the_stored_text_stays_english(office, forged):
    ticket, dairy, cheque = forged
    base = ticket.points_earned - 250
    english = (
        f"offer:{dairy} refused: campaign {dairy} is on dairy: the ticket has no line of dairy that earns "
        f"points; offer:{cheque} refused: campaign {cheque} needs a basket of 30.00 EUR that earns points: "
        f"the ticket's is 15.00 EUR; till gave {base + 250} points, rules 2026.1 give {base}: till has basket "
        f"offer:{dairy} 250, basket offer:{cheque} 0; rules give nothing"
    )
    reason, parts = office.conn.execute(
        "SELECT reason, reason_json FROM discrepancies WHERE ticket_id = ?", (ticket.id,)
    ).fetchone()
    assert reason == english
    assert [p["code"] for p in json.loads(parts)] == ["offer_refused", "offer_refused", "breakdown"]
    assert page_reason(office, ticket.id, "en-GB,en;q=0.8") == (
        f"offer of campaign {dairy} refused: campaign {dairy} is on dairy: the ticket has no line of dairy that "
        f"earns points; offer of campaign {cheque} refused: campaign {cheque} needs a basket of €30.00 that earns "
        f"points: the ticket's is €15.00; till gave {base + 250} points, rules 2026.1 give {base}: till has basket "
        f"offer of campaign {dairy} 250, basket offer of campaign {cheque} 0; rules give nothing"
    )


def test_an_older_row_without_parts_or_one_extended_by_another_check_shows_its_text(office, forged):
    ticket, dairy, cheque = forged
    conn = office.conn
    (reason,) = conn.execute("SELECT reason FROM discrepancies WHERE ticket_id = ?", (ticket.id,)).fetchone()
    with conn:
        conn.execute("UPDATE discrepancies SET reason = reason || '; a later check' WHERE ticket_id = ?", (ticket.id,))
    shown = page_reason(office, ticket.id, "fr-FR")
    assert shown.startswith(f"offre de la campagne {dairy} refusée") and shown.endswith(
        " ; les règles donnent rien; a later check"
    )
    with conn:
        conn.execute("UPDATE discrepancies SET reason_json = NULL WHERE ticket_id = ?", (ticket.id,))
    assert page_reason(office, ticket.id, "fr-FR") == reason + "; a later check"
