"""The server recomputes every synced ticket's points with its rules version and records differences."""

import json
import random
import re
from datetime import datetime, timedelta, timezone

import msgspec
import pytest
from click.testing import CliRunner

from loyalty.cli import main
from programme.points import earn_points
from programme.ticket import Tender, Ticket
from server.ingest.receive import classify
from server.desk.rules_versions import record_version
from server.ingest.rules_check import RulesCatalog, check_ticket
from server.ingest.store import Store
from sync.codec import encode_ticket
from sync.rules_message import add_version, encode_bundle
from sync.topics import tickets as tickets_topic
from terminal import rules_store
from terminal.journal import Journal
from terminal.sale import sell
from terminal.simulate import Shopper
from tests.fixtures.signing import signed, trust
from tests.programme.test_rules_docs import DOC, blocks

NOW = "2026-11-23T12:00:00+00:00"
(DOC_RULES_TEXT,) = [body for kind, body in blocks(DOC.read_text()) if kind == "rules"]


def simulated_ticket(rules, n: int, lines, card, rng: random.Random) -> Ticket:
    """A ticket as a till on `rules` would close it: any day of November 2026, two stores, tiers, segments."""
    at = datetime(2026, 11, 1, tzinfo=timezone.utc) + timedelta(minutes=rng.randrange(30 * 24 * 60))
    store = rng.choice(["S001", "S042"])
    tier = rng.choice([None, None, "silver", "gold"])
    segments = frozenset({"families"}) if rng.random() < 0.2 else frozenset()
    points = earn_points(lines, card, rules=rules, at=at, store=store, tier=tier, segments=segments)
    total = sum(li.total_cents for li in lines)
    terminal = f"{store}-T01"
    return Ticket(
        id=f"{terminal}-{n:08d}",
        terminal=terminal,
        seq=n,
        store=store,
        cashier="ann",
        opened_at=at,
        closed_at=at,
        lines=lines,
        tenders=[Tender("cash", total)],
        total_cents=total,
        card=card,
        points=points,
        rules_version=rules.version,
    )


@pytest.mark.timeout(300)
def test_till_and_server_on_the_same_rules_agree_on_10000_simulated_tickets():
    from programme.rules import parse_rules

    rules = parse_rules(DOC_RULES_TEXT)
    catalog = RulesCatalog([parse_rules(DOC_RULES_TEXT)])  # the server parses its own copy
    shopper, rng = Shopper(seed=5, card_share=0.9), random.Random(5)
    # Some baskets hold the articles the rules single out, so multipliers, bonuses and offers all fire.
    special = [("3017620422003", "grocery"), ("3560070000019", "household"), ("3045320094084", "grocery")]
    checked = points = 0
    for n in range(1, 10_001):
        lines, card = shopper.basket()
        if rng.random() < 0.3:
            from programme.ticket import make_line

            gtin, category = rng.choice(special)
            lines = [*lines, make_line(gtin, rng.randint(1, 3), rng.randint(100, 900), category)]
        if card and rng.random() < 0.1:
            card = "2900000000018"  # the card with a personal offer
        ticket = simulated_ticket(rules, n, lines, card, rng)
        assert check_ticket(catalog, ticket) is None, ticket.id
        checked += ticket.card is not None
        points += ticket.points_earned
    assert checked > 8000 and points > 0


def sold_messages(tmp_path, count: int, terminal="S001-T01", with_doc_rules=True):
    shopper = Shopper(seed=3, card_share=1.0)
    with Journal(tmp_path / f"{terminal}.db", terminal) as journal:
        if with_doc_rules:
            bundle, _, _ = add_version(None, DOC_RULES_TEXT)
            message = signed("rules", encode_bundle(bundle))
            assert rules_store.receive(journal.conn, message, NOW, trust()) == ["2026.11-2"]
        return [(tickets_topic(terminal), encode_ticket(sell(journal, *shopper.basket()))) for _ in range(count)]


def ingest(store, messages):
    good, dead = classify(messages)
    return store.ingest(good, dead, NOW)


def test_tickets_through_the_real_ingest_agree_and_an_altered_one_is_flagged(tmp_path):
    store = Store(tmp_path / "server.db")
    record_version(store.conn, DOC_RULES_TEXT, NOW)
    messages = sold_messages(tmp_path, 40)
    assert {msgspec.json.decode(p)["ticket"]["rules_version"] for _, p in messages} == {"2026.11-2"}
    raw = msgspec.json.decode(messages[7][1])
    entry = next(e for e in raw["ticket"]["points"] if e["points"] > 0)
    entry["points"] += 5  # a till that gave 5 points too many on one line
    messages[7] = (messages[7][0], msgspec.json.encode(raw))
    result = ingest(store, messages)
    assert (result.stored, result.dead_letters) == (40, 0)
    rows = store.conn.execute(
        "SELECT ticket_id, rules_version, till_points, server_points, reason FROM discrepancies"
    ).fetchall()
    till_points = sum(e["points"] for e in raw["ticket"]["points"] if e["kind"] == "earn")
    line = f"line {entry['line'] + 1} {entry['rule']}"
    assert rows == [
        (
            "S001-T01-00000008",
            "2026.11-2",
            till_points,
            till_points - 5,
            f"till gave {till_points} points, rules 2026.11-2 give {till_points - 5}: "
            f"till has {line} {entry['points']}; rules give {line} {entry['points'] - 5}",
        )
    ]
    # The ticket keeps what the till sent; the ledger credits what the rules give, never the till's extra 5.
    ledger = store.conn.execute("SELECT sum(points) FROM ledger WHERE ticket_id = 'S001-T01-00000008'").fetchone()
    assert ledger == (till_points - 5,)
    assert store.conn.execute("SELECT points_earned FROM tickets WHERE id = 'S001-T01-00000008'").fetchone() == (
        till_points,
    )


def test_a_version_the_server_does_not_know_is_recorded_not_trusted(tmp_path):
    store = Store(tmp_path / "server.db")
    ingest(store, sold_messages(tmp_path, 3))
    reasons = {r for (r,) in store.conn.execute("SELECT reason FROM discrepancies")}
    assert reasons == {
        "rules version 2026.11-2 is not known to the server: record it with `loyalty rules publish FILE --db`"
    }
    assert store.conn.execute("SELECT count(*) FROM discrepancies WHERE server_points IS NULL").fetchone() == (3,)


def test_default_rules_tickets_agree_and_expiry_runs_once(tmp_path):
    store = Store(tmp_path / "server.db")
    ingest(store, sold_messages(tmp_path, 30, with_doc_rules=False))
    assert store.conn.execute("SELECT count(*) FROM discrepancies").fetchone() == (0,)
    balance = store.conn.execute("SELECT sum(points) FROM ledger").fetchone()[0]
    store.close()
    db = str(tmp_path / "server.db")
    year = datetime.now(timezone.utc).year
    runner = CliRunner()
    early = runner.invoke(main, ["server", "expire", "--db", db, "--as-of", f"{year + 1}-02-27"])
    assert early.exit_code == 0, early.output
    assert json.loads(early.output.splitlines()[-1])["entries"] == 0
    first = runner.invoke(main, ["server", "expire", "--db", db, "--as-of", f"{year + 1}-02-28"])
    again = runner.invoke(main, ["server", "expire", "--db", db, "--as-of", f"{year + 1}-03-01"])
    summary = json.loads(first.output.splitlines()[-1])
    assert (summary["points"], summary["rules_version"]) == (balance, "2026.1") and summary["entries"] > 0
    assert json.loads(again.output.splitlines()[-1])["entries"] == 0
    store = Store(db)
    assert store.conn.execute("SELECT sum(points) FROM ledger").fetchone() == (0,)


def test_scheduled_cheques_carry_the_remainder_once_a_day(tmp_path):
    store = Store(tmp_path / "server.db")
    ingest(store, sold_messages(tmp_path, 30, with_doc_rules=False))
    db = str(tmp_path / "server.db")
    runner = CliRunner()
    till_rules = runner.invoke(main, ["server", "cheques", "--db", db, "--as-of", "2026-12-01"])
    assert json.loads(till_rules.output)["note"] == (
        'rules 2026.1 issue cheques at the till ([cheques] issue = "till"): nothing to do'
    )
    scheduled = re.sub(r'(?m)^issue = "till"$', 'issue = "schedule"', DOC_RULES_TEXT)
    scheduled = re.sub(r"(?m)^effective_from = .*$", "effective_from = 2026-11-30T00:00:00Z", scheduled)
    record_version(store.conn, scheduled, NOW)
    store.conn.execute(
        "INSERT INTO ledger (card, kind, points, rule, cause, ticket_id, at) "
        "VALUES ('2900000000018', 'adjust', 1230, 'a year of shopping', 'desk:test-1', NULL, ?)",
        (NOW,),
    )
    balances = dict(store.conn.execute("SELECT card, sum(points) FROM ledger GROUP BY card"))
    due = {card: points // 500 for card, points in balances.items() if points >= 500}
    assert due == {"2900000000018": 2}
    first = json.loads(runner.invoke(main, ["server", "cheques", "--db", db, "--as-of", "2026-12-01"]).output)
    again = json.loads(runner.invoke(main, ["server", "cheques", "--db", db, "--as-of", "2026-12-01"]).output)
    assert (first["cards"], first["cheques"], first["cents"]) == (len(due), sum(due.values()), 500 * sum(due.values()))
    assert first["rules_version"] == "2026.11-2" and again["cards"] == 0
    after = dict(store.conn.execute("SELECT card, sum(points) FROM ledger GROUP BY card"))
    assert after["2900000000018"] == 230 and after == {**balances, "2900000000018": 230}  # remainder carried
