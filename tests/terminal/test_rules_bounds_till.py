"""A rules version the till kept before the rules' bounds existed, and that is now past one, never stops a sale:
the till leaves it aside (logged) and sells under the version in force before it."""

import json
import logging
from datetime import datetime, timezone

from programme.points import RULES_VERSION
from programme.ticket import make_line
from terminal import rules_store
from terminal.journal import Journal
from terminal.sale import sell

CARD = "2900000000018"
OLD = (
    'version = "2026.11-old"\neffective_from = 2026-11-01T00:00:00Z\n'
    '[[bonuses]]\narticle = "3017620422003"\npoints = 500\n'
)  # 500 points a unit: past today's 100


def test_a_kept_version_now_past_a_bound_is_left_aside_not_a_crash(tmp_path, caplog):
    with Journal(tmp_path / "till.db", "S001-T01") as journal:
        journal.conn.execute(rules_store.SCHEMA)
        journal.conn.execute(
            "INSERT INTO rules_versions VALUES (?, ?, ?, ?)",
            ("2026.11-old", "2026-11-01T00:00:00+00:00", OLD, "2026-11-01T00:00:00+00:00"),
        )
        with caplog.at_level(logging.WARNING, logger="loyalty.till.rules"):
            rules = rules_store.in_force(journal.conn, datetime(2026, 11, 23, tzinfo=timezone.utc))
            ticket = sell(journal, [make_line("3017620422003", 2, 250)], CARD)
        assert rules.version == RULES_VERSION and ticket.rules_version == RULES_VERSION
        events = [json.loads(r.getMessage()) for r in caplog.records]
        assert events[0] == {
            "event": "rules_refused",
            "version": "2026.11-old",
            "reason": "received rules, line 5: bonuses[0].points: expected int <= 100",
        }
