"""One definition of each head-office figure, run by DuckDB and by Spark (local mode) over the same archive:
the known figures of tests/server/analytics (value, Pareto, deciles, ranks, RFM, LTV, retention, identification,
points, segments' inputs, campaign analysis) come out of both, and on generated data both equal the aggregates
path figure for figure."""

from __future__ import annotations

import json
import shutil
from datetime import date

import pytest
from click.testing import CliRunner

from loyalty.cli import main

from server.analytics import aggregate, archive, campaigns, dashboard, points, rfm, segments, value
from server.analytics.engines import DuckDb, EngineError, engine, stop_spark
from server.analytics.figures import campaign_inputs, customer_figures, prepare, top_categories, value_dashboard
from server.analytics.generate import Plan, generate
from server.storage.connection import open_connection
from server.storage.desk_db import open_db

from ...fixtures.components import require
from ...fixtures.headoffice import CARDS, END, START, build_known_set

POINT = value.point_value_cents()


@pytest.fixture(scope="session")
def spark(tmp_path_factory):
    """Spark in local mode (2 threads, 512 MB, one shuffle partition, errors-only logs) for the whole run."""
    import os

    require(
        shutil.which("java") is not None or bool(os.environ.get("JAVA_HOME")),
        "Java (for Spark)",
        "apt-get install openjdk-17-jre-headless",
    )
    try:
        import pyspark  # noqa: F401
    except ImportError:
        require(False, "pyspark", "pip install -e '.[spark]'")
    from server.analytics import engines

    saved = engines.SPARK_MEMORY, os.environ.get("LOYALTY_SPARK_PARTITIONS")
    engines.SPARK_MEMORY = "512m"
    os.environ["LOYALTY_SPARK_PARTITIONS"] = "1"
    try:  # tiny data: no code generation nor adaptive plans, which cost more than they save here
        engines.spark_session({"spark.sql.codegen.wholeStage": "false", "spark.sql.adaptive.enabled": "false"})
    except EngineError as exc:
        require(False, "a working Spark", str(exc))
    yield "spark"
    stop_spark()
    engines.SPARK_MEMORY = saved[0]
    if saved[1] is None:
        os.environ.pop("LOYALTY_SPARK_PARTITIONS", None)


def archived(conn, folder):
    aggregate.refresh(conn)
    archive.export(conn, folder)
    return folder


@pytest.fixture
def known(office_target, tmp_path):
    build_known_set(office_target)
    conn = open_connection(office_target)
    yield conn, archived(conn, tmp_path / "office.archive")
    conn.close()


def everything(name: str, conn, folder, start=START, end=END, with_dashboard=True) -> dict:
    """Every figure the engine computes over [start, end] (the dashboard's too unless told)."""
    with engine(name, folder) as e:
        prepare(e, value.card_owners(conn))
        found = {"figures": customer_figures(e, start, end, POINT, with_stores=True), "tops": top_categories(e)}
        if with_dashboard:
            found["dashboard"] = value_dashboard(e, start, end, POINT)
        return found


def expected_dashboard(conn, start, end) -> dict:
    body = dashboard.compute(conn, start, end)
    del body["enrolments"]  # the desk's cards table, not the archive's
    return body


def assert_known(found: dict) -> None:
    """The numbers of test_value.py, test_dashboard.py and test_segments.py, known by hand."""
    got = found["figures"]
    values = {v.key: v for v in got.values}
    a, b, c = values[CARDS["A"]], values[CARDS["B"]], values[CARDS["C"]]
    assert len(values) == 10
    assert (a.spend_cents, a.tickets, a.visits, a.last_day, a.recency_days, a.margin_cents) == (
        70000,
        2,
        2,
        "2026-01-30",
        1,
        21000,
    )
    assert (a.points_earned, a.points_cost_cents, a.net_cents) == (700, 700, 20300)
    assert (b.spend_cents, b.points_redeemed, b.recency_days) == (10000, 50, 6)
    assert (c.margin_cents, c.points_earned, c.net_cents) == (750, 1025, -275)
    assert a.stores == {"S001": 70000} and values[CARDS["D"]].stores == {"S002": 2500}
    assert [g["spend_cents"] for g in got.deciles] == [70000, 10000] + [2500] * 8 and got.deciles[0]["share"] == 0.7
    assert (
        got.ranks[CARDS["A"]],
        got.ranks[CARDS["B"]],
        got.ranks[CARDS["C"]],
        got.ranks[CARDS["D"]],
        got.ranks[CARDS["J"]],
    ) == ("top decile", "decile 2", "below zero", "decile 4", "decile 10")
    assert [got.rfm[CARDS[n]].code for n in "ABCDEJ"] == ["555", "515", "111", "111", "211", "411"]
    assert found["tops"][CARDS["A"]] == (70000, "fresh") and len(found["tops"]) == 10
    if "dashboard" in found:
        assert_known_dashboard(found["dashboard"])


def assert_known_dashboard(board: dict) -> None:
    assert (board["customers"], board["spend_cents"], board["top20"]) == (10, 100000, 0.8)
    assert board["curve"][0] == (0.0, 0.0) and board["curve"][2] == (0.1, 0.7) and board["curve"][20] == (1.0, 1.0)
    assert board["retention"] == rfm.DEFAULT_RETENTION  # nobody bought in December 2025
    assert board["top"][0]["key"] == CARDS["A"] and board["top"][0]["ltv_cents"] == 637376
    assert board["rank_counts"][0] == ("top decile", 1) and board["rank_counts"][-1] == ("below zero", 1)
    assert [(r["store"], r["spend_cents"], r["identified_cents"], r["tickets"]) for r in board["stores"]] == [
        ("S001", 105000, 80000, 4),
        ("S002", 20000, 20000, 8),
    ]
    assert board["points"] == {
        "issued": 2000,
        "redeemed": 50,
        "expired": 0,
        "outstanding": 2050,
        "point_cents": 1,
        "liability_cents": 2050,
        "cheques_outstanding_cents": 0,
        "next_expiry": "2026-02-28",
        "expiring_points": 100,
        "expiring_cents": 100,
    }


def assert_as_aggregates(found: dict, conn, start, end) -> None:
    """The engine's figures == the aggregates path's (value.py, rfm.py, points.py, dashboard.py, segments.py)."""
    expected = value.customer_values(conn, start, end, with_stores=True)
    got = found["figures"]
    assert got.values == expected
    assert got.deciles == value.deciles(expected)
    assert got.ranks == value.value_ranks(expected)
    assert got.rfm == rfm.rfm_scores(expected)
    assert found["dashboard"] == expected_dashboard(conn, start, end)
    assert found["tops"] == segments._top_categories(conn)


def test_duckdb_gives_the_known_figures(known):
    conn, folder = known
    found = everything("duckdb", conn, folder)
    assert_known(found)
    assert_as_aggregates(found, conn, START, END)
    assert points.points_summary(conn, START, END, as_of=END) == found["dashboard"]["points"]


def test_an_empty_period_gives_empty_figures(known):
    conn, folder = known
    found = everything("duckdb", conn, folder, *rfm.previous_period(START, END))
    assert found["figures"].values == [] and found["dashboard"]["deciles"] == []
    assert found["dashboard"]["curve"] == [(0.0, 0.0)] and found["dashboard"]["top20"] == 0.0
    assert_as_aggregates(found, conn, *rfm.previous_period(START, END))


def known_split(conn) -> tuple[int, list]:
    """The campaign of test_campaigns.test_analysis_of_a_known_split: A-E target, F-J control."""
    campaign_id = campaigns.create(
        conn,
        campaigns.Campaign(
            name="January bonus",
            segment=segments.SegmentSpec(start=START, end=END),
            kind="bonus_points",
            points=300,
            starts=START,
            ends=END,
            control_per_mille=300,
            seed=1,
        ),
    )
    with conn:
        for name, card in CARDS.items():
            conn.execute(
                "UPDATE campaign_members SET grp = ? WHERE card = ?", ("target" if name <= "E" else "control", card)
            )
    return campaign_id, [
        tuple(r)
        for r in conn.execute("SELECT customer, card, grp FROM campaign_members WHERE campaign_id = ?", (campaign_id,))
    ]


def test_campaign_analysis_from_the_archive_equals_the_aggregates(known):
    conn, folder = known
    campaign_id, members = known_split(conn)
    expected = campaigns.analyse(conn, campaign_id)
    with DuckDb(folder) as e:
        got = campaigns.analyse(conn, campaign_id, campaign_inputs(e, campaign_id, members, START, END))
    assert got == expected and (got["targets"], got["mean_target_cents"]) == (5, 17500)


@pytest.mark.timeout(300)  # about 45 s on an idle 2-core machine, 90-150 s when five other runs share it
def test_spark_gives_the_same_figures_as_duckdb(spark, tmp_path):
    """The known set and a generated year, each archived once, computed by both engines."""
    known_db = str(tmp_path / "known.db")
    build_known_set(known_db)
    conn = open_connection(known_db)
    folder = archived(conn, tmp_path / "known.archive")
    on_spark = everything(spark, conn, folder, with_dashboard=False)  # the dashboard: by the command below
    assert_known(on_spark)
    assert on_spark == everything("duckdb", conn, folder, with_dashboard=False)
    campaign_id, members = known_split(conn)
    with engine(spark, folder) as e:
        assert campaigns.analyse(
            conn, campaign_id, campaign_inputs(e, campaign_id, members, START, END)
        ) == campaigns.analyse(conn, campaign_id)
    conn.close()
    period = ("--start", "2026-01-01", "--end", "2026-01-31")
    by_spark, by_duckdb = (
        json.loads(office_figures("--db", known_db, "--engine", name, *period).output) for name in ("spark", "duckdb")
    )
    assert by_spark.pop("engine") == "spark" and by_spark.pop("seconds") > 0
    del by_duckdb["engine"], by_duckdb["seconds"]
    assert by_spark == by_duckdb
    assert_known_dashboard(
        json.loads(json.dumps(by_spark), object_hook=dict)
        | {"curve": [tuple(p) for p in by_spark["curve"]], "rank_counts": [tuple(r) for r in by_spark["rank_counts"]]}
    )

    conn = open_db(tmp_path / "generated.db")
    generate(conn, Plan(customers=200, tickets=1500, stores=4, seed=5, end=date(2026, 6, 30)))
    folder = archived(conn, tmp_path / "generated.archive")
    start, end = date(2025, 7, 1), date(2026, 6, 30)
    on_spark = everything(spark, conn, folder, start, end)
    assert len(on_spark["figures"].values) > 150
    assert_as_aggregates(on_spark, conn, start, end)
    assert on_spark == everything("duckdb", conn, folder, start, end)
    conn.close()


def test_an_unknown_engine_is_refused(known):
    _, folder = known
    with pytest.raises(EngineError) as refused:
        engine("oracle", folder)
    assert str(refused.value) == "no engine 'oracle': give one of duckdb, spark"


def office_figures(*args):
    return CliRunner().invoke(main, ["office", "figures", *args], env={"LOYALTY_DB": None})


@pytest.fixture
def office_db(tmp_path):
    db = tmp_path / "office.db"
    build_known_set(db)
    conn = open_connection(db)
    archived(conn, tmp_path / "office.archive")
    yield db, conn
    conn.close()


def test_the_figures_command_prints_the_dashboard_as_json(office_db):
    db, conn = office_db
    result = office_figures("--db", str(db), "--start", "2026-01-01", "--end", "2026-01-31")
    assert result.exit_code == 0, result.output
    printed = json.loads(result.output)
    assert (printed["engine"], printed["customers"], printed["top20"]) == ("duckdb", 10, 0.8)
    del printed["engine"], printed["seconds"]
    assert printed == json.loads(json.dumps(expected_dashboard(conn, START, END)))
    by_default = json.loads(office_figures("--db", str(db)).output)  # the year up to the last ticket
    assert (by_default["start"], by_default["end"], by_default["customers"]) == ("2025-01-31", "2026-01-30", 10)


def test_the_figures_command_refuses_what_it_cannot_do(office_db, tmp_path):
    db, _ = office_db
    result = office_figures("--db", str(db), "--start", "2026-02-01", "--end", "2026-01-31")
    assert result.exit_code == 1
    assert result.output == (
        "Error: the period ends (2026-01-31) before it starts (2026-02-01): swap --start and --end\n"
    )
    empty = tmp_path / "nothing"
    empty.mkdir()
    result = office_figures("--db", str(db), "--archive", str(empty))
    assert result.exit_code == 1
    assert result.output == (
        f"Error: {empty} is not an archive (no _archive.json): run `loyalty office export` first\n"
    )


def test_the_spark_job_says_what_is_wrong(office_db, tmp_path, capsys):
    from server.analytics import spark_job

    db, _ = office_db
    assert spark_job.main(["--db", str(db), "--archive", str(tmp_path / "elsewhere")]) == 1
    assert capsys.readouterr().err == (
        f"error: {tmp_path / 'elsewhere'} is not an archive (no _archive.json): run `loyalty office export` first\n"
    )


@pytest.mark.timeout(300)
def test_spark_reads_cut_months_and_stale_rollups_as_duckdb_and_the_aggregates(spark, tmp_path):
    """A period that cuts its first and last months in two (those days read raw), and a month whose roll-up lags
    its files (a crash between them: read raw), on both engines."""
    conn = open_db(tmp_path / "generated.db")
    generate(conn, Plan(customers=120, tickets=900, stores=3, seed=8, end=date(2026, 6, 30)))
    folder = archived(conn, tmp_path / "generated.archive")
    (folder / "_rollups" / "2026-03.json").unlink()
    start, end = date(2025, 7, 14), date(2026, 6, 17)
    on_spark = everything(spark, conn, folder, start, end)
    assert_as_aggregates(on_spark, conn, start, end)
    assert on_spark == everything("duckdb", conn, folder, start, end)
    conn.close()
