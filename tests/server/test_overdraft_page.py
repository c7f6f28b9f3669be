"""The sync health page lists the cards head office found overdrawn, with their tickets: both engines."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from programme.ticket import GENESIS_HASH, PointsEntry, Tender, Ticket, make_line
from server.ingest import overdraft

from ..fixtures.headoffice import CARDS, chained, store_tickets
from .test_office_web import text  # noqa: F401 - fixture

pytestmark = pytest.mark.usefixtures("english")  # written when the pages spoke only English


def spending(terminal: str, card: str, points: int) -> Ticket:
    now = datetime.now(timezone.utc)
    return Ticket(
        id=f"{terminal}-00000001",
        terminal=terminal,
        seq=1,
        store=terminal[:4],
        cashier="c1",
        opened_at=now,
        closed_at=now,
        lines=[make_line("3017620422003", 1, points)],
        tenders=[Tender(kind="points", cents=points)],
        total_cents=points,
        card=card,
        points=[PointsEntry(kind="redeem", rule="points tender", points=points)],
        rules_version="base-1",
    )


def test_an_overdrawn_card_is_listed_with_its_tickets(office):
    page = text(office.client("head_office").get("/office/sync"))
    assert "<h2>Overdrafts</h2>" in page and "No overdraft." in page
    card = CARDS["J"]
    before = office.conn.execute("SELECT points FROM card_points WHERE card = ?", (card,)).fetchone()[0]
    for terminal in ("S007-T01", "S007-T02"):  # two tills offline, each spends the card's whole balance
        store_tickets(office.db_path, chained([spending(terminal, card, before)], GENESIS_HASH))
    (flagged,) = overdraft.recent(office.conn)
    assert (flagged["card"], flagged["balance"]) == (card, -before)
    row = text(office.client("head_office").get("/office/sync")).split('<table id="overdrafts">')[1]
    row = row.split("<tbody>")[1].split("</tr>")[0]
    assert f'<td class="mono">{card}</td><td class="num">-{before}</td>' in row
    assert (
        '<a href="/office/tickets/S007-T01-00000001">S007-T01-00000001</a> '
        '<a href="/office/tickets/S007-T02-00000001">S007-T02-00000001</a>'
    ) in row
