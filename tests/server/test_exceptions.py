"""Head office's exceptions, SQLite and PostgreSQL: offline overdrafts, a card in several stores within an hour,
a cheque spent twice, a return without its original; each row names its tickets."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import msgspec

from programme.cardnumber import make_card_number
from programme.redemption import cheque_serial
from server.analytics.exceptions import exceptions
from server.ingest.receive import classify
from server.ingest.store_api import open_store
from sync.codec import encode_ticket
from sync.topics import tickets as tickets_topic
from terminal import cardstate
from terminal.till import TillSession

CARD, OTHER, THIRD = "2900000000018", "2900000000025", make_card_number("290000000003")
OIL = "3000000000014"


def session(tmp_path, terminal, card=CARD, points=0):
    till = TillSession(str(tmp_path / f"{terminal}.db"), terminal)
    if points:
        cardstate.remember_balance(till.journal.conn, card, points, "2026-01-01T00:00:00+00:00")
    till.identify(card)
    return till


def closed(till):
    till.pay("cash") if till.basket.due_cents else None
    ticket = till.close().ticket
    till.close_session()
    return ticket


def exceptional_tickets(tmp_path) -> dict:
    """Tickets that make each kind of exception, as tills would send them (ingested in that order)."""
    out = {}
    issuing = session(tmp_path, "S001-T01", points=1000)
    issuing.scan(f"{OIL}@1.00")
    issuing.issue_cheques()
    out["issued"] = closed(issuing)
    serial = cheque_serial("S001-T01", out["issued"].seq, 0, 500)
    spends = []
    for terminal in ("S001-T02", "S001-T03"):  # offline: each spends the cheque and 400 of the 0 points left
        till = session(tmp_path, terminal, points=400)
        till.scan(f"{OIL}@12.00")
        till.spend_cheque(serial)
        till.redeem(400)
        spends.append(closed(till))
    out["spends"] = spends
    far = session(tmp_path, "S002-T01", card=OTHER)  # the other card in store 2, then store 1 twenty minutes later
    far.scan(f"{OIL}@3.00")
    first = closed(far)
    near = session(tmp_path, "S001-T04", card=OTHER)
    near.scan(f"{OIL}@3.00")
    second = closed(near)
    later = first.closed_at + timedelta(minutes=20)
    out["stores"] = [first, msgspec.structs.replace(second, opened_at=later, closed_at=later)]
    seller = session(tmp_path, "S001-T05", card=THIRD)  # sold at a till that never syncs, returned at another
    seller.scan(f"{OIL}@4.00")
    original = closed(seller)
    returning = TillSession(str(tmp_path / "S001-T05.db"), "S001-T05")
    back = returning.return_lines(original.id, {0: 1}, ask=False).ticket
    returning.close_session()
    out["return"] = msgspec.structs.replace(back, id="S001-T06-00000001", terminal="S001-T06", seq=1)
    out["original"] = original
    return out


def ingest(target, tickets):
    store = open_store(target)
    try:
        with store.conn:  # the card's points at head office before the tills sell (a desk adjustment)
            for n, (card, points) in enumerate([(CARD, 1400), (THIRD, 100)]):
                store.conn.execute(
                    "INSERT INTO ledger (card, kind, points, rule, cause, ticket_id, at) VALUES "
                    "(?, 'adjust', ?, 'welcome gift', ?, NULL, ?)",
                    (card, points, f"desk:{n}", datetime.now(timezone.utc).isoformat()),
                )
        for ticket in tickets:  # one batch each, in the order they reach head office
            good, dead = classify([(tickets_topic(ticket.terminal), encode_ticket(ticket))])
            store.ingest(good, dead, datetime.now(timezone.utc).isoformat())
    finally:
        store.close()


def test_each_kind_of_exception_is_listed_with_its_tickets(tmp_path, office_target):
    made = exceptional_tickets(tmp_path)
    ingest(office_target, [made["issued"], *made["spends"], *made["stores"], made["return"]])
    store = open_store(office_target)
    try:
        found = {section.id: rows for section, rows in exceptions(store.conn)}
    finally:
        store.close()
    a, b = made["spends"]
    serial = cheque_serial("S001-T01", made["issued"].seq, 0, 500)
    assert [(r.what, r.tickets) for r in found["cheques-twice"]] == [
        (f"cheque {serial} (5.00 EUR) spent 2 times", [a.id, b.id])
    ]
    (overdrawn,) = found["overdrafts"]
    assert overdrawn.what == f"card {CARD} overdrawn: balance -375 points" and {a.id, b.id} <= set(overdrawn.tickets)
    first, second = made["stores"]
    assert [(r.what, r.tickets) for r in found["several-stores"]] == [
        ("card *********0025 in store S002 then S001 within an hour", [first.id, second.id])
    ]
    assert [(r.what, r.tickets) for r in found["returns-without-original"]] == [
        (f"return of {made['original'].id}, which head office does not hold", [made["return"].id])
    ]


def test_the_exceptions_page_and_the_sync_page_title(office, english):
    from .test_office_web import text

    client = office.client("head_office")
    page = text(client.get("/office/exceptions"))
    assert "<title>Exceptions · Loyalty desk</title>" in page
    assert '<a href="/office/exceptions" id="nav-exceptions">Exceptions</a>' in page
    from server.analytics.exceptions import SECTIONS

    assert page.count('<p class="none">None.</p>') == len(SECTIONS) == 5  # every kind, none found
    # The sync page's title is its name, not the overdrafts table (which stays on the page)
    sync = text(client.get("/office/sync"))
    assert "<title>Sync health · Loyalty desk</title>" in sync and sync.count('<table id="overdrafts">') <= 1
    refused = client.get("/office/exceptions?days=0")
    assert refused.status_code == 400


def exceptions_page(tmp_path, target, language: str) -> tuple[dict, str]:
    """The page on a database holding one of each kind of exception, in `language`."""
    from ..fixtures.desk import Desk, text
    from ..fixtures.headoffice import close_office

    made = exceptional_tickets(tmp_path)
    ingest(target, [made["issued"], *made["spends"], *made["stores"], made["return"]])
    desk = Desk(tmp_path, target)
    try:
        page = text(desk.client("head_office").get("/office/exceptions?days=7", headers={"Accept-Language": language}))
    finally:
        close_office(desk)
    return made, page.replace("\u202f", " ").replace("\u00a0", " ")


def test_the_exceptions_page_in_french(tmp_path, office_target, fast_argon2):
    made, page = exceptions_page(tmp_path, office_target, "fr-FR")
    serial = cheque_serial("S001-T01", made["issued"].seq, 0, 500)
    first, second = made["stores"]
    assert "<title>Anomalies · " in page and "<h1>Anomalies <small>7 derniers jours</small></h1>" in page
    assert "<label>Jours <input" in page and '<button id="show">Afficher</button>' in page
    assert '<h2 id="overdrafts-title">Découverts hors ligne <small>1</small></h2>' in page
    assert (
        '<h2 id="several-stores-title">Une carte dans plusieurs magasins en moins d\'une heure <small>1</small></h2>'
        in page
    )
    assert '<h2 id="cheques-twice-title">Chèques fidélité dépensés deux fois <small>1</small></h2>' in page
    assert '<h2 id="returns-without-original-title">Retours sans le ticket d\'origine <small>1</small></h2>' in page
    assert (
        '<h2 id="cancellations-title">Beaucoup d\'annulations sur une caisse ou par un caissier <small>0</small></h2>'
        in page
    )
    assert (
        '<p id="cancellations-explanation">Au moins 10 tickets annulés et lignes supprimées sur la période ; '
        "le filtre Afficher de l'explorateur de tickets les liste.</p>" in page
    )
    assert (
        '<p id="cheques-twice-explanation">Un chèque pris par plus d\'un ticket (caisses hors ligne, ou une copie).'
        in page
    )
    assert "<th>Quand</th><th>Libellé</th><th>Tickets</th>" in page
    assert f"<td>chèque {serial} (5,00 €) dépensé 2 fois</td>" in page
    assert f"<td>carte {CARD} à découvert : solde de -375 points</td>" in page
    assert "<td>carte *********0025 au magasin S002 puis S001 en moins d'une heure</td>" in page
    assert f"<td>retour de {made['original'].id}, que le siège ne détient pas</td>" in page
    assert '<p class="none">Aucune.</p>' in page  # no cancellations
    assert re.search(r"<tr><td>\d\d/\d\d/\d{4} \d\d:\d\d</td><td>chèque ", page)  # Paris time, French date


def test_the_exceptions_page_in_english(tmp_path, office_target, fast_argon2):
    made, page = exceptions_page(tmp_path, office_target, "en-GB")
    serial = cheque_serial("S001-T01", made["issued"].seq, 0, 500)
    assert "<h1>Exceptions <small>last 7 days</small></h1>" in page
    assert '<h2 id="cheques-twice-title">Loyalty cheques spent twice <small>1</small></h2>' in page
    assert (
        '<p id="cancellations-explanation">At least 10 cancelled tickets and line voids over the period; the ticket '
        "explorer's Show filter lists them.</p>" in page
    )
    assert f"<td>cheque {serial} (€5.00) spent 2 times</td>" in page
    assert "<td>card *********0025 in store S002 then S001 within an hour</td>" in page
