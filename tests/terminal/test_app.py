"""The cashier's screen driven by keys through Textual's pilot, on a real journal file."""

import asyncio
import functools
import re
import sqlite3

import pytest

from programme.i18n import _, format_number
from programme.money import format_cents
from programme.points import default_rules
from terminal import cardstate
from terminal.app import TillApp

pytestmark = pytest.mark.usefixtures("english")  # written when the till spoke only English

CARD = "2900000000018"
RAZORS, OIL = "3000000000007", "3000000000014"  # 1.91 and 5.42 in the seed-0 catalogue
SIZE = (130, 40)
CHEQUES = default_rules().cheques  # the shipped rules issue cheques: threshold and value
THRESHOLD = CHEQUES.threshold_points


def pilot_test(fn):
    """Run an async pilot test in its own event loop (no async pytest plugin needed)."""

    @functools.wraps(fn)
    def run(*args, **kwargs):
        asyncio.run(fn(*args, **kwargs))

    return run


def text_of(app, selector: str) -> str:
    return str(app.screen.query_one(selector).render())


async def type_in(pilot, text: str) -> None:
    """What a scanner or the keyboard puts in the entry line, then Enter (one key at a time is slow)."""
    pilot.app.screen.query_one("#entry").value = text
    await pilot.press("enter")


async def identify(app, pilot, card: str = CARD) -> None:
    await pilot.press("f2")
    await type_in(pilot, card)
    await app.workers.wait_for_complete()
    await pilot.pause()


@pytest.fixture
def db(tmp_path):
    return str(tmp_path / "till.db")


async def sell_with_card(app, pilot) -> str:
    await type_in(pilot, f"3*{OIL}")
    await type_in(pilot, RAZORS)
    await identify(app, pilot)
    await pilot.press("f10")
    await type_in(pilot, "cash 50")
    return text_of(app, "#receipt")


@pilot_test
async def test_full_sale_with_card(db):
    app = TillApp(db, "S001-T01", cashier="alice")
    async with app.run_test(size=SIZE) as pilot:
        await type_in(pilot, f"3*{OIL}")
        await type_in(pilot, RAZORS)
        assert "TOTAL €18.17   items 4" in text_of(app, "#totals")
        await identify(app, pilot)
        assert text_of(app, "#card") == (
            f"card *********0018  customer\nbalance 0 points  (offline)\nnext loyalty cheque in {THRESHOLD} points"
        )
        await pilot.press("f10")
        await type_in(pilot, "cash 50")
        assert text_of(app, "#message") == "ticket closed; change to give: €31.83"
        receipt = text_of(app, "#receipt")
        await pilot.pause(0.3)
        assert text_of(app, "#status").startswith("offline (no broker) | backlog 1 | last ack never | rules ")
    conn = sqlite3.connect(db)
    ((stored,),) = conn.execute("SELECT text FROM receipts").fetchall()
    assert receipt.rstrip() == stored.rstrip()
    assert "S001-T01-00000001" in stored and "*********0018" in stored and "€31.83\n" in stored
    earned = conn.execute("SELECT sum(points) FROM ledger WHERE kind = 'earn' AND card = ?", (CARD,)).fetchone()[0]
    assert earned == 18 and f"balance (offline)                       {earned}" in stored


@pilot_test
async def test_redemption_refused_for_lack_of_points(db):
    app = TillApp(db, "S001-T01")
    cardstate.remember_balance(app.session.journal.conn, CARD, 120, "2026-01-01T00:00:00+00:00", first_name="Ana")
    async with app.run_test(size=SIZE) as pilot:
        await type_in(pilot, f"3*{OIL}")
        await identify(app, pilot)
        assert text_of(app, "#card") == (
            f"card *********0018  Ana\nbalance 120 points  (offline)\nnext loyalty cheque in {THRESHOLD - 120} points"
        )
        await pilot.press("f6")
        await type_in(pilot, "500")
        assert text_of(app, "#message") == "not enough points: the card has 120 and 500 were asked; redeem at most 120"
        assert app.session.basket.tenders == []
        await pilot.press("f6")
        await type_in(pilot, "100")
        assert text_of(app, "#message") == "100 points redeemed for €1.00"
        await type_in(pilot, "card")
        assert "CONTROL SLIP" in text_of(app, "#receipt")
    rows = sqlite3.connect(db).execute("SELECT kind, points FROM ledger ORDER BY id").fetchall()
    assert rows == [("earn", 16), ("redeem", -100)]


@pilot_test
async def test_void_a_line(db):
    app = TillApp(db, "S001-T01")
    async with app.run_test(size=SIZE) as pilot:
        await type_in(pilot, RAZORS)
        await type_in(pilot, f"2*{OIL}")
        await type_in(pilot, "3017620422003@2.50")
        await pilot.press("f4")
        await type_in(pilot, "two")
        assert text_of(app, "#message") == "'two' is not a line number: type the number shown in the first column"
        await type_in(pilot, "2")
        assert text_of(app, "#message") == "voided: olive oil 1l €10.84"
        await pilot.press("f4", "enter")
        assert text_of(app, "#message") == "voided: Pâte à tartiner Nutella 400 g €2.50"  # the shipped catalogue's
        assert app.screen.query_one("#lines").row_count == 1
        assert "TOTAL €1.91   items 1" in text_of(app, "#totals")
        await pilot.press("f3")
        assert app.screen.query_one("#lines").row_count == 0 and text_of(app, "#message") == "ticket cancelled"


@pilot_test
async def test_reprint_is_marked_duplicata(db):
    app = TillApp(db, "S001-T01")
    async with app.run_test(size=SIZE) as pilot:
        first = await sell_with_card(app, pilot)
        await pilot.press("f8", "enter")
        duplicate = text_of(app, "#receipt")
        assert duplicate.splitlines()[0].strip() == "*** DUPLICATA 1 ***"
        assert first.strip() in duplicate
        assert app.session.printer.output.count(b"DUPLICATA") == 2


@pilot_test
async def test_return_reverses_points(db):
    app = TillApp(db, "S001-T01")
    async with app.run_test(size=SIZE) as pilot:
        await sell_with_card(app, pilot)
        await pilot.press("f7")
        await type_in(pilot, "S001-T01-00000001")
        assert text_of(app, "#receipt") == "return of S001-T01-00000001\n1. olive oil 1l x3\n2. razors x1"
        await type_in(pilot, "2x1")
        assert text_of(app, "#message") == "ticket S001-T01-00000002 closed"
        assert "RETURN" in text_of(app, "#receipt")
        await pilot.press("f7")
        await type_in(pilot, "S001-T01-00000009")
        assert text_of(app, "#message") == (
            "ticket S001-T01-00000009 is not in this till's journal: check the "
            "number printed at the foot of the receipt, e.g. S001-T01-00000042"
        )
    conn = sqlite3.connect(db)
    lines = conn.execute("SELECT quantity, total_cents FROM lines WHERE ticket_id = 'S001-T01-00000002'").fetchall()
    assert lines == [(-2, -1084)]
    reversed_, earned = conn.execute(
        "SELECT -sum(points) FILTER (WHERE kind = 'reverse'), sum(points) FILTER (WHERE kind = 'earn') FROM ledger"
    ).fetchone()
    assert 0 < reversed_ <= earned


@pilot_test
async def test_blocked_card_is_shown(db):
    app = TillApp(db, "S001-T01")
    cardstate.replace_hotlist(app.session.journal.conn, {CARD: "lost"})
    async with app.run_test(size=SIZE) as pilot:
        await identify(app, pilot)
        assert text_of(app, "#card") == (
            "card blocked (lost): card *********0018 is on the hot-list; keep the card "
            "and send the customer to the welcome desk"
        )
        assert app.session.basket.card is None


@pilot_test
async def test_loyalty_cheque_issued_and_printed(db):
    app = TillApp(db, "S001-T01")
    cardstate.remember_balance(app.session.journal.conn, CARD, 2 * THRESHOLD + 7, "2026-01-01T00:00:00+00:00")
    async with app.run_test(size=SIZE) as pilot:
        await type_in(pilot, RAZORS)
        await identify(app, pilot)
        value = format_cents(CHEQUES.cheque_cents)
        assert text_of(app, "#card").endswith(f"\n2 loyalty cheques of €{value} available (F9)")
        await pilot.press("f9")
        assert text_of(app, "#message") == (
            f"loyalty cheques: 2 x €{value} ({2 * THRESHOLD} points): printed when the ticket closes"
        )
        assert text_of(app, "#card").endswith(
            f"next loyalty cheque in {THRESHOLD - 7} points\nredeemed on this ticket {2 * THRESHOLD}"
        )
        await pilot.press("f9")
        assert text_of(app, "#message") == f"the card has 7 points; a loyalty cheque needs {THRESHOLD}"
        await pilot.press("f10", "enter")
        shown = text_of(app, "#receipt")
        assert re.search(rf"\n.+ +{re.escape(format_number(-2 * THRESHOLD, plain=True))}\n", shown)
        # one slip per cheque, each with its own serial (printed under a barcode)
        assert shown.count(_("LOYALTY CHEQUE - CHEQUE FIDELITE")) == 2 and shown.count("\n" + _("serial")) == 2
    rows = sqlite3.connect(db).execute("SELECT kind, points, rule FROM ledger WHERE kind = 'redeem'").fetchall()
    assert rows == [("redeem", -2 * THRESHOLD, f"loyalty cheque: 2 x {value} EUR")]
