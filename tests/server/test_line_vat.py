"""Head office keeps the VAT rate each ticket line was sold at, on both engines; older lines keep NULL."""

import sqlite3

from programme.ticket import make_line
from server.ingest.store import Store
from sync.codec import encode_ticket
from sync.topics import tickets as tickets_topic
from terminal.journal import Journal
from terminal.sale import sell

from .test_store import ingest


def test_each_line_is_stored_with_its_vat_rate_and_old_lines_with_none(tmp_path, store):
    with Journal(tmp_path / "till.db", "S001-T01") as journal:
        ticket = sell(
            journal,
            [
                make_line("3017620422003", 2, 399, vat_rate=550),
                make_line("96385074", 1, 280, category="press", vat_rate=210),
                make_line("3000000000014", 1, 100),
            ],
        )
    assert ingest(store, [(tickets_topic("S001-T01"), encode_ticket(ticket))]).stored == 1
    rows = store.conn.execute("SELECT line_no, vat_rate FROM lines ORDER BY line_no").fetchall()
    assert [tuple(r) for r in rows] == [(0, 550), (1, 210), (2, None)]


def test_a_database_from_before_the_column_gets_it(tmp_path):
    path = tmp_path / "server.db"
    Store(path).close()
    conn = sqlite3.connect(path)
    conn.execute("ALTER TABLE lines DROP COLUMN vat_rate")
    conn.execute("DELETE FROM schema_migrations WHERE number >= 6")  # as the version before made it
    conn.commit()
    conn.close()
    reopened = Store(path)
    assert "vat_rate" in {r[1] for r in reopened.conn.execute("PRAGMA table_info(lines)")}
    reopened.close()


def test_a_vat_rate_past_its_bound_is_a_dead_letter_with_its_path(tmp_path):
    import msgspec

    with Journal(tmp_path / "till.db", "S001-T01") as journal:
        ticket = sell(journal, [make_line("3017620422003", 1, 399, vat_rate=550)])
    raw = msgspec.json.decode(encode_ticket(ticket))
    raw["ticket"]["lines"][0]["vat_rate"] = 10_001
    store = Store(tmp_path / "server.db")
    try:
        result = ingest(store, [(tickets_topic("S001-T01"), msgspec.json.encode(raw))])
        assert (result.stored, result.dead_letters) == (0, 1)
        assert store.dead_letters()[0]["reason"].endswith("Expected `int` <= 10000 - at `$.ticket.lines[0].vat_rate`")
    finally:
        store.close()
