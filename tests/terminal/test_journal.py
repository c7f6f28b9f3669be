import sqlite3

import pytest

from programme.errors import TicketError
from programme.ticket import Tender, make_line
from sync import outbox
from sync.codec import decode_ticket
from terminal.journal import Journal
from terminal.sale import sell

CARD = "2900000000018"


def test_close_writes_ticket_lines_ledger_and_outbox_together(tmp_path):
    with Journal(tmp_path / "till.db", "S001-T01") as journal:
        ticket = sell(
            journal, [make_line("3017620422003", 3, 250), make_line("3000000000017", 1, 1150, "tobacco")], CARD
        )
        assert (ticket.id, ticket.seq, ticket.points_earned) == ("S001-T01-00000001", 1, 7)
        conn = sqlite3.connect(tmp_path / "till.db")
        assert conn.execute("SELECT count(*) FROM lines").fetchone() == (2,)
        assert conn.execute("SELECT card, kind, points, cause FROM ledger").fetchall() == [
            (CARD, "earn", 7, "ticket:S001-T01-00000001:0")
        ]
        ((topic, payload),) = conn.execute("SELECT topic, payload FROM outbox").fetchall()
        assert topic == "loyalty/v1/up/S001-T01/tickets"
        assert decode_ticket(payload, "S001-T01") == ticket


def test_sequences_have_no_holes_and_chain_hashes(tmp_path):
    with Journal(tmp_path / "till.db", "S001-T01") as journal:
        first = sell(journal, [make_line("3017620422003", 1, 100)])
        with pytest.raises(TicketError):
            # A tender that does not match the total: refused inside the transaction.
            journal.close_ticket(
                cashier="x",
                lines=[make_line("3017620422003", 1, 100)],
                tenders=[Tender("cash", 1)],
                card=None,
                points=[],
                rules_version="base-1",
            )
        second = sell(journal, [make_line("3017620422003", 1, 100)])
        assert [first.seq, second.seq] == [1, 2]
        assert journal.ticket_count() == 2 and journal.backlog() == 2
        from programme.ticket import GENESIS_HASH, ticket_hash

        assert first.prev_hash == GENESIS_HASH and second.prev_hash == ticket_hash(first)


def test_failed_write_rolls_back_whole(tmp_path):
    with Journal(tmp_path / "till.db", "S001-T01") as journal:
        # Occupy the outbox slot of the next ticket so the last insert of the transaction fails.
        journal.conn.execute("INSERT INTO outbox VALUES (1, 't', x'00', 'now', 'x')")
        with pytest.raises(sqlite3.IntegrityError):
            sell(journal, [make_line("3017620422003", 1, 100)], CARD)
        counts = [
            journal.conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("tickets", "lines", "ledger")
        ]
        assert counts == [0, 0, 0]


def test_acknowledge_forgets_acked_messages_only(tmp_path):
    with Journal(tmp_path / "till.db", "S001-T01") as journal:
        for _ in range(5):
            sell(journal, [make_line("3017620422003", 1, 100)])
        assert outbox.acknowledge(journal.conn, 3, "2026-01-01T00:00:00+00:00") == 3
        assert [row[0] for row in outbox.pending(journal.conn, 0, 10)] == [4, 5]
        assert outbox.acked_to(journal.conn) == 3
