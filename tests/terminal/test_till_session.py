"""The till's library functions: card state, redemption, returns, receipts (the screen calls these)."""

from datetime import date, datetime, timezone
from pathlib import Path

import pytest

from programme.errors import ProgrammeError, RedemptionError
from programme.i18n import use_language

from programme.ticket import PointsEntry, Tender, Ticket, make_line, validate_ticket
from terminal import cardstate
from terminal.errors import CardRefused, ReturnError, TillError
from terminal.receipt import make_printer, render_control_slip, render_receipt
from terminal.store_settings import StoreSettings
from terminal.till import TillSession

pytestmark = pytest.mark.usefixtures("english")  # written when the till spoke only English

CARD = "2900000000018"
RAZORS, OIL = "3000000000007", "3000000000014"
EXPECTED = Path(__file__).parent / "expected"
NOON = datetime(2026, 3, 14, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def session(tmp_path):
    till = TillSession(str(tmp_path / "till.db"), "S001-T01", cashier="alice")
    yield till
    till.close_session()


def test_balance_is_known_plus_local_and_offline_until_confirmed(session):
    conn = session.journal.conn
    assert session.identify(CARD).points == 0
    cardstate.remember_balance(conn, CARD, 1000, "2026-01-01T00:00:00+00:00", first_name="Ana")
    session.scan(f"2*{OIL}")
    session.pay("cash")
    closed = session.close()
    balance = cardstate.card_balance(conn, CARD, online=False)
    assert (balance.points, balance.known_points, balance.local_points) == (1010, 1000, 10)
    assert balance.first_name == "Ana" and not balance.confirmed
    assert cardstate.card_balance(conn, CARD, online=True).confirmed
    assert closed.balance.points == 1010
    # The server's newer balance counts the acked ticket: only later entries stay local.
    conn.execute("INSERT INTO sync_state VALUES ('acked_to', '1')")
    cardstate.remember_balance(conn, CARD, 1010, datetime.now(timezone.utc))
    assert cardstate.card_balance(conn, CARD, online=True).points == 1010


def test_hotlisted_card_is_refused(session):
    cardstate.replace_hotlist(session.journal.conn, {CARD: "stolen"})
    with pytest.raises(CardRefused) as err:
        session.identify(CARD)
    assert str(err.value) == (
        "card blocked (stolen): card *********0018 is on the hot-list; keep the card and "
        "send the customer to the welcome desk"
    )
    assert cardstate.replace_hotlist(session.journal.conn, []) == 0
    assert session.identify(CARD).card == CARD


def test_redeem_writes_a_redeem_entry_and_a_control_slip(session):
    cardstate.remember_balance(session.journal.conn, CARD, 800, "2026-01-01T00:00:00+00:00")
    session.online = lambda: True
    session.identify(CARD)
    session.scan(f"2*{OIL}")
    with pytest.raises(RedemptionError) as err:
        session.redeem(900)
    assert str(err.value) == "not enough points: the card has 800 and 900 were asked; redeem at most 800"
    assert session.redeem(300).cents == 300
    session.pay("bank_card")
    closed = session.close()
    assert closed.ticket.points_redeemed == 300
    rows = session.journal.conn.execute("SELECT kind, points FROM ledger ORDER BY id").fetchall()
    assert rows == [("earn", 10), ("redeem", -300)]
    assert "points deducted                        300" in closed.control_slip
    assert "balance after                          510" in closed.control_slip


def test_return_reverses_prorated_points_never_more_than_earned(session):
    session.identify(CARD)
    session.scan(f"3*{OIL}")  # 16.26
    session.scan(RAZORS)  # 1.91
    session.pay("cash")
    sale = session.close().ticket
    oil_points = sum(e.points for e in sale.points if e.line == 0)
    assert oil_points > 0 and sale.points_earned == 18
    first = session.return_lines(sale.id, {0: 1}).ticket
    assert [(li.quantity, li.total_cents) for li in first.lines] == [(-1, -542)]
    assert [(e.kind, e.points, e.line) for e in first.points] == [("reverse", oil_points // 3, 0)]
    with pytest.raises(ProgrammeError) as err:
        session.return_lines(sale.id, {0: 3})
    assert str(err.value) == f"line 1 of {sale.id}: 2 left to return, 3 asked"
    rest = session.return_lines(sale.id, {0: 2, 1: 1}).ticket
    assert first.points[0].points + sum(e.points for e in rest.points) == 18
    ledger = session.journal.conn.execute("SELECT sum(points) FROM ledger WHERE card = ?", (CARD,)).fetchone()[0]
    assert ledger == 0
    with pytest.raises(ReturnError) as err:
        session.return_lines("S001-T01-00000099", {0: 1})
    assert str(err.value) == (
        "ticket S001-T01-00000099 is not in this till's journal: check the number printed "
        "at the foot of the receipt, e.g. S001-T01-00000042"
    )


def expected_sale_ticket() -> Ticket:
    """A fixed ticket (points entries given, not computed) so the receipt does not move with the rules."""
    lines = [
        make_line(OIL, 3, 542, "grocery", "olive oil 1l", vat_rate=550),
        make_line(RAZORS, 1, 191, "hygiene", "razors", vat_rate=2000),
        make_line("3000000000021", 2, 1066, "fresh", "chicken breast", discount_cents=400, vat_rate=550),
    ]
    return Ticket(
        id="S001-T01-00000007",
        terminal="S001-T01",
        seq=7,
        store="S001",
        cashier="alice",
        opened_at=NOON,
        closed_at=NOON,
        lines=lines,
        tenders=[Tender("points", 300), Tender("cash", 3549 - 300)],
        total_cents=3549,
        card=CARD,
        points=[
            PointsEntry("earn", "base", 16, 0),
            PointsEntry("earn", "base", 1, 1),
            PointsEntry("earn", "promo fresh x2", 34, 2),
            PointsEntry("redeem", "points tender", 300),
        ],
        rules_version="2026.1",
        signature="c2lnbmF0dXJl",
    )


def test_receipt_text_matches_expected():
    validate_ticket(expected_sale_ticket())
    settings = StoreSettings(
        "Supermarché du Centre", ("12 rue de la Paix", "75002 Paris"), "73282932000074", "FR44732829320"
    )
    with use_language("en"):  # the English source texts: the French ones are the translators'
        text = render_receipt(
            expected_sale_ticket(),
            change_cents=751,
            balance=1251,
            balance_confirmed=False,
            settings=settings,
            expires_on=date(2028, 2, 28),
        )
        slip = render_control_slip(expected_sale_ticket(), balance_before=1500, balance_after=1251)
    assert text == (EXPECTED / "receipt_sale.txt").read_text()
    assert slip == (EXPECTED / "control_slip.txt").read_text()


def test_reprint_is_marked_duplicata(session):
    session.identify(CARD)
    session.scan(f"3*{OIL}")
    session.pay("cash", 5000)
    closed = session.close()
    duplicate = session.reprint(closed.ticket.id)
    assert duplicate.splitlines()[0].strip() == "*** DUPLICATA 1 ***" == duplicate.splitlines()[-1].strip()
    assert closed.receipt in duplicate
    assert session.reprint() == duplicate.replace("DUPLICATA 1", "DUPLICATA 2")  # the last ticket by default
    printed = session.printer.output
    # AGEC: the receipt was not printed unasked; each copy names the ticket at its head and its foot.
    assert printed.count(b"DUPLICATA") == 4 and printed.count(b"S001-T01-00000001") == 4
    with pytest.raises(TillError) as err:
        session.reprint("S001-T01-00000042")
    assert str(err.value) == (
        "no ticket S001-T01-00000042 in this till's journal: check the number at the foot of the receipt"
    )


def test_file_printer_and_unknown_printer(tmp_path):
    printer = make_printer(f"file:{tmp_path / 'printer.bin'}")
    printer.text("x\n")
    printer.close()
    assert (tmp_path / "printer.bin").read_bytes().endswith(b"x\n")
    with pytest.raises(TillError) as err:
        make_printer("lpt1")
    assert str(err.value) == ("printer 'lpt1' not understood: use dummy, file:PATH, network:HOST[:PORT] or usb:VID:PID")
