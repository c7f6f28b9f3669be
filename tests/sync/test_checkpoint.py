"""WAL checkpoints happen on the journal's own thread when the till pauses, never inside a close."""

import sqlite3

from programme.points import RULES_VERSION, earn_points
from programme.ticket import Tender, make_line
from sync.checkpoint import SAFETY_NET_PAGES, Checkpointer
from terminal.journal import Journal

CARD = "2900000000018"


def _close(journal: Journal, n_lines: int = 25) -> None:
    lines = [make_line(f"{3000000000000 + n:013d}", 1, 199 + n, "grocery", f"article {n}") for n in range(n_lines)]
    journal.close_ticket(
        cashier="c1",
        lines=lines,
        tenders=[Tender("cash", sum(li.total_cents for li in lines))],
        card=CARD,
        points=earn_points(lines, CARD),
        rules_version=RULES_VERSION,
    )


def _wal_frames(path) -> int:
    """Frames written to the WAL since it last restarted (a PASSIVE checkpoint reports them)."""
    with sqlite3.connect(path) as conn:
        return conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[1]


def test_closes_never_checkpoint_themselves(tmp_path):
    path = tmp_path / "till.db"
    journal = Journal(path, "S001-T01")
    journal.checkpointer = Checkpointer(str(path), every_commits=100_000, idle_s=3600)
    assert journal.conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == SAFETY_NET_PAGES
    for _ in range(150):
        _close(journal)
    # SQLite's default would have checkpointed and restarted the WAL at 1,000 pages.
    assert _wal_frames(path) > 1000
    assert journal.checkpointer.checkpoints == 0
    journal.close()  # the last checkpoint runs on stop
    assert journal.checkpointer.checkpoints == 1
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT count(*), max(seq) FROM tickets").fetchone() == (150, 150)


def test_a_busy_spell_is_checkpointed_after_enough_closes(tmp_path):
    path = tmp_path / "till.db"
    journal = Journal(path, "S001-T01")
    journal.checkpointer = Checkpointer(str(path), every_commits=5, idle_s=3600)
    for _ in range(5):
        _close(journal)
    assert journal.checkpointer.done.wait(30), "no checkpoint after 5 closes"
    assert journal.checkpointer.checkpoints == 1
    journal.close()


def test_a_pause_is_checkpointed(tmp_path):
    path = tmp_path / "till.db"
    journal = Journal(path, "S001-T01")
    journal.checkpointer = Checkpointer(str(path), every_commits=100_000, idle_s=0.05)
    _close(journal)
    assert journal.checkpointer.done.wait(30), "no checkpoint once the till paused"
    assert journal.checkpointer.checkpoints == 1
    journal.close()


def test_a_journal_that_never_closed_a_ticket_starts_no_thread(tmp_path):
    journal = Journal(tmp_path / "till.db", "S001-T01")
    journal.close()
    assert journal.checkpointer.checkpoints == 0
