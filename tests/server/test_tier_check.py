"""Head office recomputes each ticket with the tier IT knows for the card at the ticket's time, not the tier the
till claims: a difference is a discrepancy and the server's figure is credited. SQLite and PostgreSQL."""

from datetime import datetime, timedelta, timezone

import msgspec


from server.ingest.receive import classify
from server.ingest.store_api import open_store
from sync.codec import encode_ticket
from sync.topics import tickets as tickets_topic
from terminal import cardstate
from terminal.journal import Journal
from terminal.sale import parse_line_spec, sell


CARD = "2900000000018"
NOW = datetime.now(timezone.utc).isoformat()


def ingest(db, tickets):
    store = open_store(db)
    try:
        good, dead = classify([(tickets_topic(t.terminal), encode_ticket(t)) for t in tickets])
        store.ingest(good, dead, NOW)
        rows = store.conn.execute(
            "SELECT ticket_id, till_points, server_points, reason FROM discrepancies ORDER BY ticket_id"
        ).fetchall()
        ledger = dict(store.conn.execute("SELECT ticket_id, sum(points) FROM ledger GROUP BY ticket_id").fetchall())
        return [tuple(r) for r in rows], ledger
    finally:
        store.close()


def test_a_tier_the_till_claims_but_head_office_does_not_know_is_flagged_and_not_credited(tmp_path, office_target):
    with Journal(tmp_path / "till.db", "S001-T01") as journal:
        cardstate.remember_balance(journal.conn, CARD, 0, NOW, tier="gold")  # a till told (or making up) gold
        ticket = sell(journal, [parse_line_spec("3000000000014,1,10000")], CARD)
    assert ticket.points_earned == 125
    rows, ledger = ingest(office_target, [ticket])
    assert rows == [
        (
            ticket.id,
            125,
            100,
            "till gave 125 points, rules 2026.1 give 100: till has line 1 tier:gold 25; rules give nothing",
        )
    ]
    assert ledger[ticket.id] == 100


def test_a_gold_card_head_office_knows_earns_gold_even_when_the_till_did_not_know(tmp_path, office_target):
    with Journal(tmp_path / "till.db", "S001-T01") as journal:
        # 4,000 EUR spent over the year: gold at head office (default rules: gold from 4,000 EUR)
        big = sell(journal, [parse_line_spec("3000000000014,40,10000")], CARD)
        later = sell(journal, [parse_line_spec("3000000000014,1,10000")], CARD)
    big = msgspec.structs.replace(
        big, opened_at=big.opened_at - timedelta(days=2), closed_at=big.closed_at - timedelta(days=2)
    )
    rows, ledger = ingest(office_target, [big])
    assert rows == [] and ledger[big.id] == 4000
    rows, ledger = ingest(office_target, [later])
    assert rows == [
        (
            later.id,
            100,
            125,
            "till gave 100 points, rules 2026.1 give 125: till has nothing; rules give line 1 tier:gold 25",
        )
    ]
    assert ledger[later.id] == 125
