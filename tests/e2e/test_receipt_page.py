"""The receipt's QR code, from a till's printed receipt to the ticket's page on a phone: headless Chromium at
390x844 against the app served in-process; the link printed as the QR code is the one the page answers."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest

from programme.receipt_link import receipt_link
from programme.ticket import utc_now
from server.analytics import aggregate, campaigns
from server.analytics.campaigns import Campaign
from server.analytics.segments import SegmentSpec
from terminal.receipt_qr import link_for, print_qr_block
from terminal.till import TillSession

from ..fixtures.browser import by_id, serve
from ..fixtures.desk import Desk
from ..fixtures.headoffice import CARDS, END, START, build_known_set, close_office, register_customers, store_tickets

PHONE = (390, 844)


@pytest.mark.timeout(90)
def test_a_printed_receipts_qr_code_opens_its_page_on_a_phone(tmp_path, fast_argon2, browser, monkeypatch):
    monkeypatch.setenv("LOYALTY_LANG", "en")
    office = Desk(tmp_path)
    build_known_set(office.db_path)
    register_customers(office.conn)
    office.conn.row_factory = None
    aggregate.refresh(office.conn)
    today = utc_now().date()
    campaigns.create(
        office.conn,
        Campaign(
            name="Autumn bonus",
            segment=SegmentSpec(start=START, end=END),
            kind="bonus_points",
            points=300,
            starts=today,
            ends=today + timedelta(days=6),
            stores=["S002"],
            control_per_mille=100,
            seed=1,
        ),
    )
    target = office.conn.execute(
        "SELECT card FROM campaign_members WHERE grp = 'target' AND card = ?", (CARDS["A"],)
    ).fetchone()
    assert target is not None  # card A waits for the offer (it shops in S001, the offer is for S002)
    try:
        with serve(office.app) as url:
            monkeypatch.setenv("LOYALTY_RECEIPT_URL", url + "/")
            session = TillSession(str(tmp_path / "till.db"), "S001-T05")
            try:
                session.scan("3017620422003@12.34")
                session.identify(CARDS["A"])
                session.pay("cash")
                closed = session.close()
                session.print_receipt()  # AGEC: the customer asks for the paper receipt
                printed = session.printer.output
            finally:
                session.close_session()
            link = link_for(closed.ticket)
            assert link == receipt_link(url, closed.ticket) and link.startswith(f"{url}/r/S001-T05-00000001/")
            assert "S001-T05-00000001" in closed.receipt
            assert closed.receipt.endswith("\nScan for your receipt online:\n")
            from escpos.printer import Dummy

            expected = Dummy()
            print_qr_block(expected, link)
            image = expected.output[expected.output.index(b"\x1dv0") :]  # the code's raster image
            assert image in printed  # the printed code is this link's, before the cut
            assert printed.index(image) < printed.rindex(b"\x1dV")
            store_tickets(office.db_path, [closed.ticket])  # the till's ticket reaches head office

            browser.set_window_size(*PHONE)
            browser.get(link)
            page = html.unescape(browser.page_source)
            assert by_id(browser, "title").text == "Your receipt"
            assert by_id(browser, "total").text == "€12.34"
            assert re.search(r"Loyalty card \*{9}\d{4}", page)
            points = [row.text for row in by_id(browser, "points").find_elements("css selector", "tr")]
            assert points == ["base points +12"]  # the rule the engine names `base`, in the reader's words
            balance = office.conn.execute(
                "SELECT sum(points) FROM card_points WHERE card = ?", (CARDS["A"],)
            ).fetchone()[0]
            assert by_id(browser, "balance").text == str(balance)
            assert "Autumn bonus: 300 bonus points on your next visit, until" in by_id(browser, "offers").text
            wide = browser.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")
            assert wide[0] <= wide[1], f"the page is wider than the phone: {wide}"

            browser.get(link[:-4] + "AAAA")  # a link with another token: the same answer as an unknown ticket
            assert "This receipt link is not known: check it against the QR code on your receipt." in html.unescape(
                browser.page_source
            )
            browser.set_window_size(1280, 1000)
    finally:
        close_office(office)
