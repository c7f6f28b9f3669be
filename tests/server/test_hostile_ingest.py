"""A till is not trusted: what one sends can neither stop ingest nor mint points (issue 15, findings 1-3, 11)."""

from __future__ import annotations

import msgspec
import pytest

from programme.signing import new_private_key, public_key_text, sign_ticket
from programme.ticket import GENESIS_HASH, Line, PointsEntry, Tender, Ticket, utc_now
from server.ingest.receive import classify
from server.ingest.store import Store
from sync.codec import encode_ticket
from sync.topics import tickets as tickets_topic

NOW = "2026-12-05T10:00:00+00:00"
CARD = "2900000000018"


def ticket(
    seq: int = 1,
    terminal: str = "S001-T01",
    card: str | None = CARD,
    lines=None,
    points=None,
    rules_version: str | None = None,
    prev_hash: str = GENESIS_HASH,
) -> Ticket:
    """A ticket as a till (honest or not) would send it: built directly, not through the till's checks."""
    from programme.points import default_rules, earn_points

    lines = lines or [
        Line(gtin="3017620422003", label="spread", category="grocery", quantity=2, unit_cents=500, total_cents=1000)
    ]
    at = utc_now()
    rules = default_rules()
    if points is None:
        points = earn_points(lines, card, rules=rules, at=at, store=terminal[:4]) if card else []
    total = sum(line.total_cents for line in lines)
    return Ticket(
        id=f"{terminal}-{seq:08d}",
        terminal=terminal,
        seq=seq,
        store=terminal.split("-")[0],
        cashier="c1",
        opened_at=at,
        closed_at=at,
        lines=lines,
        tenders=[Tender(kind="cash", cents=total)],
        total_cents=total,
        card=card,
        points=list(points),
        rules_version=rules_version or rules.version,
        prev_hash=prev_hash,
    )


def ingest(store: Store, *tickets: Ticket):
    good, dead = classify([(tickets_topic(t.terminal), encode_ticket(t)) for t in tickets])
    return store.ingest(good, dead, NOW), dead


def balance(store: Store, card: str = CARD) -> int:
    return store.balances([card]).get(card, 0)


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "server.db")
    yield s
    s.close()


def test_amounts_past_the_bounds_are_dead_lettered_and_the_store_never_overflows(store):
    huge = Line(
        gtin="3017620422003", label="x", category="grocery", quantity=10**18, unit_cents=1000, total_cents=10**21
    )
    result, dead = ingest(store, ticket(1, card=None, lines=[huge]), ticket(2))
    assert result.stored == 1 and result.dead_letters == 1
    assert dead[0].reason == ("schema violation: Expected `int` <= 99999 - at `$.ticket.lines[0].quantity`")
    assert (dead[0].terminal, dead[0].seq) == ("S001-T01", 1)


@pytest.mark.parametrize(
    "field, value, reason",
    [
        ("unit_cents", 10**11, "schema violation: Expected `int` <= 10000000 - at `$.ticket.lines[0].unit_cents`"),
        (
            "discount_cents",
            10**13,
            "schema violation: Expected `int` <= 100000000 - at `$.ticket.lines[0].discount_cents`",
        ),
    ],
)
def test_every_line_amount_is_bounded(store, field, value, reason):
    doc = msgspec.json.decode(encode_ticket(ticket(1, card=None)))
    doc["ticket"]["lines"][0][field] = value
    good, dead = classify([(tickets_topic("S001-T01"), msgspec.json.encode(doc))])
    assert not good and dead[0].reason == reason


def test_points_past_the_bound_are_dead_lettered(store):
    t = ticket(1, points=[PointsEntry(kind="earn", rule="base", points=10**12)])
    result, dead = ingest(store, t)
    assert result.stored == 0
    assert dead[0].reason == "schema violation: Expected `int` <= 10000000 - at `$.ticket.points[0].points`"


@pytest.mark.parametrize("kind", ["adjust", "transfer", "expire"])
def test_a_till_cannot_send_desk_or_job_entries(store, kind):
    t = ticket(1, points=[PointsEntry(kind=kind, rule="gift", points=1_000_000)])
    result, dead = ingest(store, t)
    assert result.stored == 0 and balance(store) == 0
    assert dead[0].reason == (
        f"invalid ticket: ticket S001-T01-00000001: points entry 1 is of kind {kind!r}; "
        "a till sends only earn, redeem and reverse entries"
    )


def test_points_the_rules_do_not_give_are_not_credited(store):
    honest = ticket(1)
    given = sum(e.points for e in honest.points)
    minted = ticket(2, points=[PointsEntry(kind="earn", rule="base", points=1_000_000, line=0)])
    result, _ = ingest(store, honest, minted)
    assert result.stored == 2
    assert balance(store) == 2 * given  # the rules' figure for both baskets, never the till's million
    row = store.conn.execute(
        "SELECT till_points, server_points FROM discrepancies WHERE ticket_id = ?", (minted.id,)
    ).fetchone()
    assert row == (1_000_000, given)


def test_points_of_an_unknown_rules_version_are_held_until_it_is_known(store):
    from programme.points import default_rules

    t = ticket(1, rules_version="2099-01", points=[PointsEntry(kind="earn", rule="base", points=40, line=0)])
    result, _ = ingest(store, t)
    assert result.stored == 1 and balance(store) == 0
    held = store.conn.execute("SELECT ticket_id, card, points, reason, released_at FROM held_points").fetchall()
    assert held == [
        (
            t.id,
            CARD,
            40,
            "rules version 2099-01 is not known to the server: record it with `loyalty rules publish FILE --db`",
            None,
        )
    ]
    # head office publishes that version: the next batch books what it gives
    from server.desk.rules_versions import record_version

    from importlib import resources

    shipped = resources.files("programme").joinpath("default_rules.toml").read_text()
    text = shipped.replace(f'version = "{default_rules().version}"', 'version = "2099-01"')
    assert text != shipped
    with store.conn:
        record_version(store.conn, text, NOW)
    ingest(store, ticket(1, terminal="S001-T02", card=None))
    expected = sum(e.points for e in ticket(9).points)
    assert balance(store) == expected
    assert store.conn.execute("SELECT released_at IS NOT NULL, released_points FROM held_points").fetchone() == (
        1,
        expected,
    )


def test_negative_quantities_are_refused_outside_returns(store):
    back = Line(gtin="3017620422003", label="x", category="grocery", quantity=-1, unit_cents=1000, total_cents=-1000)
    good = Line(gtin="3017620422004", label="y", category="grocery", quantity=1, unit_cents=1000, total_cents=1000)
    t = ticket(1, lines=[good, back, good], points=[PointsEntry(kind="earn", rule="base", points=1000, line=0)])
    result, dead = ingest(store, t)
    assert result.stored == 0
    assert dead[0].reason == (
        "invalid ticket: line 2 (3017620422003): a negative quantity is a return: "
        "it needs a link to the original ticket's line (loyalty till return)"
    )


def test_unregistered_tills_are_quarantined_when_registration_is_required(tmp_path):
    store = Store(tmp_path / "server.db", require_registered=True)
    key = new_private_key()
    store.register_till("S001-T01", public_key_text(key), NOW)
    genuine = sign_ticket(ticket(1), key)
    stranger = ticket(1, terminal="S999-T99")
    result, _ = ingest(store, genuine, stranger)
    assert (result.stored, result.quarantined) == (1, 1)
    assert balance(store) == sum(e.points for e in genuine.points)
    assert store.conn.execute("SELECT terminal, reason FROM quarantine").fetchall() == [
        (
            "S999-T99",
            "till S999-T99 is not registered: register its key with `loyalty server register-till` "
            "(then `loyalty server requeue` takes its quarantined tickets)",
        )
    ]
    store.close()


def test_registration_is_not_required_by_default_in_the_library(store):
    result, _ = ingest(store, ticket(1, terminal="S999-T99"))
    assert result.stored == 1


def test_head_office_can_release_held_points_by_hand_and_stats_show_what_is_held(tmp_path):
    from click.testing import CliRunner

    from loyalty.cli import main

    path = tmp_path / "server.db"
    store = Store(path)
    t = ticket(1, rules_version="lost-1", points=[PointsEntry(kind="earn", rule="base", points=40, line=0)])
    ingest(store, t)
    assert store.stats()["points_held"] == {"tickets": 1, "points": 40}
    store.close()
    result = CliRunner().invoke(
        main,
        [
            "server",
            "release-held",
            "--db",
            str(path),
            "--ticket",
            t.id,
            "--ticket",
            "S001-T01-00000099",
            "--by",
            "claire (rules lost-1 checked by hand)",
        ],
    )
    assert result.exit_code == 0, result.output
    assert result.output.strip() == '{"released": 1, "asked": 2}'
    store = Store(path)
    assert balance(store) == 40 and store.stats()["points_held"] == {"tickets": 0, "points": 0}
    assert store.conn.execute("SELECT released_by, released_points FROM held_points").fetchone() == (
        "claire (rules lost-1 checked by hand)",
        40,
    )
    # released twice: nothing more
    result = CliRunner().invoke(main, ["server", "release-held", "--db", str(path), "--ticket", t.id, "--by", "x"])
    assert result.output.strip() == '{"released": 0, "asked": 1}' and balance(store) == 40
    store.close()


def test_requeue_stores_the_tickets_of_a_till_registered_after_it_sent_them(tmp_path):
    from click.testing import CliRunner

    from loyalty.cli import main

    path = tmp_path / "server.db"
    store = Store(path, require_registered=True)
    key = new_private_key()
    sent = [sign_ticket(ticket(seq), key) for seq in (1, 2)]
    result, _ = ingest(store, *sent)
    assert (result.stored, result.quarantined, result.acks) == (0, 2, {"S001-T01": 2})
    store.register_till("S001-T01", public_key_text(key), NOW)
    store.close()
    out = CliRunner().invoke(main, ["server", "requeue", "--db", str(path)])
    assert out.exit_code == 0, out.output
    assert out.output.strip() == '{"quarantined": 2, "stored": 2, "still_quarantined": 0}'
    store = Store(path)
    assert store.ticket_count() == 2 and balance(store) == 2 * sum(e.points for e in sent[0].points)
    again = CliRunner().invoke(main, ["server", "requeue", "--db", str(path)])
    assert again.output.strip() == '{"quarantined": 0, "stored": 0, "still_quarantined": 0}'
    store.close()


def test_stats_count_the_overdrafts(store):
    spend = [PointsEntry(kind="redeem", rule="points tender", points=300)]
    ingest(store, ticket(1, points=spend))
    assert store.stats()["overdrafts"] == 1


def test_points_held_unverified_count_as_the_cards_for_the_overdraft_flag(store):
    both = [
        PointsEntry(kind="earn", rule="base", points=40, line=0),
        PointsEntry(kind="redeem", rule="points tender", points=30),
    ]
    ingest(store, ticket(1, rules_version="lost-1", points=both))
    assert balance(store) == -30 and store.stats()["points_held"]["points"] == 40
    assert store.stats()["overdrafts"] == 0


def test_a_recorded_version_now_past_a_bound_holds_its_points_and_ingest_goes_on(store):
    from importlib import resources

    shipped = resources.files("programme").joinpath("default_rules.toml").read_text()
    text = shipped.replace('version = "2026.1"', 'version = "old-1"').replace(
        "cents_per_point = 100\n", "cents_per_point = 1\n", 1
    )
    store.conn.execute("INSERT INTO rules_versions VALUES ('old-1', '2026-01-01T00:00:00+00:00', ?, ?)", (text, NOW))
    t = ticket(1, rules_version="old-1", points=[PointsEntry(kind="earn", rule="base", points=1000, line=0)])
    result, _ = ingest(store, t, ticket(2))
    assert result.stored == 2 and balance(store) == sum(e.points for e in ticket(9).points)
    reason = store.conn.execute("SELECT reason FROM held_points").fetchone()[0]
    assert reason.startswith("rules version old-1 is past a bound of these rules: ")
