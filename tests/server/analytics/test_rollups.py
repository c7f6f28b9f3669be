"""The archive's month roll-ups (server/analytics/rollups.py) equal what the raw tickets and ledger give, computed
here in Python from the store itself: with returns (negative totals, reversed points), tickets without a card,
redeemed points, late tickets of a month already exported, a crash midway, and a format-1 archive upgraded;
on SQLite and PostgreSQL. The figures read from the roll-ups equal the aggregates path's over periods that
cut months in two."""

from __future__ import annotations

import json
from pathlib import Path
from datetime import date, datetime, timedelta, timezone

import duckdb
import pyarrow.parquet as pq
import pytest

from programme.ticket import PointsEntry, Tender, Ticket, make_line
from server.analytics import aggregate, archive, dashboard, rfm, rollups, value
from server.analytics.archive_db import ask
from server.analytics.engines import DuckDb
from server.analytics.figures import _split, customer_figures, prepare, value_dashboard
from server.analytics.generate import Plan, generate
from server.analytics.margins import margin_cents
from server.storage.connection import open_connection
from server.storage.desk_db import open_db
from terminal.journal import Journal
from terminal.returns import close_return
from terminal.sale import sell

from ...fixtures.headoffice import CARDS, build_known_set, store_tickets  # noqa: F401

POINT = 1


def _utc(moment) -> datetime:
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment.astimezone(timezone.utc)


def expected_rollups(target) -> dict:
    """Each roll-up's rows as the store's own tickets, lines and ledger give them, summed in Python."""
    conn = open_connection(target)
    try:
        tickets = conn.execute(
            "SELECT id, store, closed_at, card, total_cents, points_earned, points_redeemed FROM tickets"
        ).fetchall()
        lines = conn.execute("SELECT ticket_id, category, total_cents FROM lines").fetchall()
        ledger = conn.execute("SELECT card, kind, points, at, lot_at FROM ledger").fetchall()
    finally:
        conn.close()
    margins: dict[str, int] = {}
    for ticket_id, category, cents in lines:
        margins[ticket_id] = margins.get(ticket_id, 0) + margin_cents(category, cents)
    cards: dict[tuple, list] = {}
    days: dict[tuple, set] = {}
    stores: dict[tuple, list] = {}
    for ticket_id, store, closed_at, card, total, earned, redeemed in tickets:
        day = _utc(closed_at).date()
        month = f"{day:%Y-%m}"
        s = stores.setdefault((month, store, day), [0, 0, 0, 0])
        s[0] += total
        s[1] += 1
        if card is not None:
            s[2] += total
            s[3] += 1
            c = cards.setdefault((month, card), [0, 0, 0, 0, 0, day])
            c[0] += total
            c[1] += margins.get(ticket_id, 0)
            c[2] += 1
            c[3] += earned
            c[4] += redeemed
            c[5] = max(c[5], day)
            days.setdefault((month, card), set()).add(day)
    points: dict[tuple, list] = {}
    kinds: dict[tuple, int] = {}
    for card, kind, amount, at, lot_at in ledger:
        at = _utc(at)
        lot = _utc(lot_at) if lot_at is not None else at
        p = points.setdefault((f"{at:%Y-%m}", card, f"{lot:%Y-%m}"), [0, 0])
        p[0] += max(amount, 0)
        p[1] += -min(amount, 0)
        key = (f"{at:%Y-%m}", at.date(), kind)
        kinds[key] = kinds.get(key, 0) + amount
    return {
        "card_month": sorted(
            (month, card, len(days[(month, card)]), spend, margin, n, earned, redeemed, last)
            for (month, card), (spend, margin, n, earned, redeemed, last) in cards.items()
        ),
        "store_day": sorted((*key, *amounts) for key, amounts in stores.items()),
        "card_points": sorted((*key, *amounts) for key, amounts in points.items()),
        "points_day": sorted((*key, amount) for key, amount in kinds.items()),
    }


def rollup_files(folder) -> dict:
    """Each roll-up's rows as its files hold them (not through the views, which may read stale months raw)."""
    db = duckdb.connect()
    try:
        return {
            name: sorted(
                db.execute(
                    f"SELECT {rollups.COLUMNS[name]} FROM read_parquet('{folder}/{name}/*/{rollups.FILE}', "
                    "hive_partitioning = true, hive_types = {'month': VARCHAR})"
                ).fetchall()
            )
            for name in rollups.ROLLUPS
        }
    finally:
        db.close()


def rollup_views(folder) -> dict:
    """Each roll-up as the figures read it (archive_db's views: fresh files, stale months from the raw files)."""
    with DuckDb(folder) as e:
        return {name: sorted(e.rows(f"SELECT {rollups.COLUMNS[name]} FROM {name}")) for name in rollups.ROLLUPS}


def sale_and_return(tmp_path) -> list[Ticket]:
    """A sale of 2 oils and a razor to card A at a till, then both oils taken back: a ticket with negative
    totals, its points reversed (the real till code)."""
    with Journal(tmp_path / "till.db", "S009-T01") as till:
        sale = sell(
            till,
            [
                make_line("3000000000014", 2, 542, "grocery", "olive oil 1l"),
                make_line("3000000000007", 1, 191, "hygiene"),
            ],
            CARDS["A"],
        )
        back = close_return(till, sale.id, {0: 2})
    assert back.total_cents == -1084 and back.card == CARDS["A"]
    return [sale, back]


def late_tickets(first: int, count: int, day: date, card: str | None) -> list[Ticket]:
    """Tickets of till S007-T01 closed on `day` (a month already exported), every other one without a card."""
    closed = datetime(day.year, day.month, day.day, 18, 0, tzinfo=timezone.utc)
    return [
        Ticket(
            id=f"S007-T01-{seq:08d}",
            terminal="S007-T01",
            seq=seq,
            store="S007",
            cashier="c1",
            opened_at=closed,
            closed_at=closed,
            lines=[make_line("3017620422003", 1, 990 + seq, category="alcohol"), make_line("3228857000906", 3, 77)],
            tenders=[Tender(kind="cash", cents=990 + seq + 231)],
            total_cents=990 + seq + 231,
            card=card if seq % 2 else None,
            points=[PointsEntry(kind="earn", rule="base", points=12)] if card and seq % 2 else [],
            rules_version="base-1",
        )
        for seq in range(first, first + count)
    ]


def export(target, folder) -> dict:
    conn = open_connection(target)
    try:
        return archive.export(conn, folder)
    finally:
        conn.close()


def test_the_rollups_equal_the_raw_tickets_then_a_late_month_is_rewritten(office_target, tmp_path):
    build_known_set(office_target)  # redeemed and bonus points, a ticket without a card, 2 months
    store_tickets(office_target, sale_and_return(tmp_path))
    folder = tmp_path / "office.archive"
    first = export(office_target, folder)
    assert rollup_files(folder) == rollup_views(folder) == expected_rollups(office_target)
    returned = [r for r in rollup_files(folder)["card_month"] if r[1] == CARDS["A"] and r[0] != "2026-01"]
    assert [(r[3], r[5]) for r in returned] == [(1275 - 1084, 2)]  # the return takes its lines' spend back
    written = {p: p.stat().st_mtime_ns for p in folder.rglob(rollups.FILE)}

    store_tickets(office_target, late_tickets(1, 5, date(2026, 1, 10), CARDS["B"]))  # January, exported already
    again = export(office_target, folder)
    assert again["rollups"] == ["2026-01"] and len(first["rollups"]) == 3
    assert rollup_files(folder) == rollup_views(folder) == expected_rollups(office_target)
    rewritten = {p for p, mtime in written.items() if p.stat().st_mtime_ns != mtime}
    assert rewritten == {folder / name / "month=2026-01" / rollups.FILE for name in rollups.ROLLUPS}
    b = [r for r in rollup_files(folder)["card_month"] if r[:2] == ("2026-01", CARDS["B"])]
    assert [(r[2], r[5], r[6]) for r in b] == [(2, 4, 100 + 36)]  # 1 + 3 tickets, 2 days, base 100 + 3 x 12


def test_a_crash_while_writing_rollups_leaves_the_figures_right(office_target, tmp_path, monkeypatch):
    build_known_set(office_target)
    folder = tmp_path / "office.archive"
    export(office_target, folder)
    store_tickets(office_target, late_tickets(1, 4, date(2026, 1, 12), CARDS["C"]))
    calls = []
    durable_rename = rollups._durable_rename

    def crash_on_second(temporary, path):
        calls.append(path)
        if len(calls) == 2:
            raise OSError("disk went away")
        durable_rename(temporary, path)

    monkeypatch.setattr(rollups, "_durable_rename", crash_on_second)
    with pytest.raises(OSError, match="disk went away"):
        export(office_target, folder)
    monkeypatch.undo()
    # January's card_month is new, its store_day old, its record old: the month is stale and read raw
    assert rollups.status(folder) == (["2025-06"], ["2026-01"])
    assert rollup_files(folder) != expected_rollups(office_target)
    assert rollup_views(folder) == expected_rollups(office_target)
    assert export(office_target, folder)["rollups"] == ["2026-01"]
    assert rollups.status(folder) == (["2025-06", "2026-01"], [])
    assert rollup_files(folder) == rollup_views(folder) == expected_rollups(office_target)
    assert not list(folder.rglob("*.tmp"))


def test_a_crash_before_the_batch_is_done_leaves_its_month_stale_until_the_next_export(
    office_target, tmp_path, monkeypatch
):
    build_known_set(office_target)
    folder = tmp_path / "office.archive"

    def crash(conn, batch, written):
        raise KeyboardInterrupt

    monkeypatch.setattr(archive, "_mark_done", crash)
    with pytest.raises(KeyboardInterrupt):
        export(office_target, folder)
    monkeypatch.undo()
    assert rollups.status(folder) == ([], ["2025-06", "2026-01"])  # the batch's files, no roll-up yet
    assert rollup_views(folder) == expected_rollups(office_target)
    assert export(office_target, folder)["redone"] == 1
    assert rollup_files(folder) == expected_rollups(office_target)


def test_a_format_1_archive_gets_its_margins_and_rollups(office_target, tmp_path):
    build_known_set(office_target)
    folder = tmp_path / "office.archive"
    export(office_target, folder)
    for path in folder.glob("tickets/month=*/*.parquet"):  # what the export wrote before the roll-ups
        archive._write_part(path, pq.read_table(path).drop_columns(["margin_cents"]))
    for name in (*rollups.ROLLUPS, rollups.RECORDS):
        for path in sorted((folder / name).rglob("*"), reverse=True):
            path.rmdir() if path.is_dir() else path.unlink()
        (folder / name).rmdir()
    manifest = json.loads((folder / archive.MANIFEST).read_text())
    (folder / archive.MANIFEST).write_text(json.dumps({**manifest, "format": 1}))

    upgraded = export(office_target, folder)
    assert (upgraded["tickets"], upgraded["rollups"]) == (0, ["2025-06", "2026-01"])
    assert json.loads((folder / archive.MANIFEST).read_text())["format"] == archive.FORMAT
    assert rollup_files(folder) == expected_rollups(office_target)
    db = duckdb.connect()
    margins = db.execute(f"SELECT sum(margin_cents) FROM '{folder}/tickets/*/*.parquet'").fetchone()[0]
    db.close()
    assert margins == 125000 * 300 // 1000 + 10000 * 300 // 1000  # every line fresh: 30%


@pytest.mark.parametrize(
    "start, end",
    [
        (date(2026, 1, 1), date(2026, 1, 31)),
        (date(2025, 6, 15), date(2026, 1, 10)),
        (date(2026, 1, 2), date(2026, 1, 2)),
        (date(2026, 2, 1), date(2026, 2, 28)),
    ],
)
def test_split_keeps_whole_months_for_the_rollups(start, end):
    whole, part = _split(start, end)
    covered = set()
    for first in part:
        day = max(first, start)
        while day.month == first.month and day <= end:
            covered.add(day)
            day += timedelta(days=1)
    assert all(first.day == 1 for first in part) and len(part) <= 2
    if whole != "false":
        months = whole.split("'")[1::2]
        day = date.fromisoformat(months[0] + "-01")
        while f"{day:%Y-%m}" <= months[-1]:
            assert day not in covered
            covered.add(day)
            day += timedelta(days=1)
    assert covered == {start + timedelta(days=n) for n in range((end - start).days + 1)}


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """A generated year (returns, redemptions, anonymous tickets), archived, with its aggregates."""
    folder = tmp_path_factory.mktemp("generated")
    conn = open_db(folder / "server.db")
    generate(conn, Plan(customers=150, tickets=1200, stores=3, seed=11, end=date(2026, 6, 30)))
    aggregate.refresh(conn)
    archive.export(conn, folder / "office.archive")
    yield conn, folder / "office.archive"
    conn.close()


@pytest.mark.parametrize(
    "start, end", [(date(2025, 7, 14), date(2026, 6, 17)), (date(2026, 3, 3), date(2026, 3, 29)), (None, None)]
)
def test_figures_over_months_cut_in_two_equal_the_aggregates(generated, start, end):
    conn, folder = generated
    start, end = start or date(2025, 7, 1), end or date(2026, 6, 30)
    expected = value.customer_values(conn, start, end)
    with DuckDb(folder) as e:
        prepare(e, value.card_owners(conn))
        got = customer_figures(e, start, end, POINT)
        board = value_dashboard(e, start, end, POINT)
    assert got.values == expected and len(expected) > 20
    assert got.rfm == rfm.rfm_scores(expected) and got.ranks == value.value_ranks(expected)
    wanted = dashboard.compute(conn, start, end)
    del wanted["enrolments"]
    assert board == wanted


def test_duckdb_spills_into_a_private_folder_it_removes(generated):
    """Past its memory DuckDB writes rows (card numbers) to disk: into a 0700 folder of the engine's own, removed
    when it closes, not a `.tmp` beside wherever the process runs."""
    _, folder = generated
    with DuckDb(folder) as e:
        spill = Path(e.rows("SELECT current_setting('temp_directory')")[0][0])
        assert spill.is_dir() and spill.stat().st_mode & 0o777 == 0o700
    assert not spill.exists()


def test_an_analysts_query_spills_into_a_private_folder_too(generated):
    _, folder = generated
    spill = Path(ask(folder, "SELECT current_setting('temp_directory')").rows[0][0])
    assert spill.name.startswith("loyalty-duckdb-") and not spill.exists()
