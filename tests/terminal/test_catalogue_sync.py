"""The catalogue from head office to the till over a real Mosquitto: imported from the ERP's CSV, kept in the
till's journal, sold from offline at the price of the day; a bad file, a replay or another store's is refused."""

import json
import sqlite3
import threading
from datetime import date, timedelta

import msgspec
import pytest
from click.testing import CliRunner

from loyalty.cli import main
from programme.catalogue import Article, CatalogueVersion, encode_version
from programme.ticket import utc_now
from sync import topics
from sync.broker_url import parse_broker_url
from terminal import catalogue_store
from terminal.downlink import DownlinkListener
from terminal.errors import TillError
from terminal.till import TillSession

from ..fixtures.mqtt import Listener, RawPublisher
from ..fixtures.signing import signed, trust

NUTELLA, COLA, PRESS = "3017620422003", "5000112637922", "96385074"
HEADER = "gtin;label;price;category;vat;store;valid_from;valid_to\n"


def write_csv(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def catalogue_csv(tmp_path, price_change: date) -> str:
    return write_csv(
        tmp_path,
        "articles.csv",
        HEADER + f"{NUTELLA};Nutella 400 g;3,99;grocery;5,5;;;\n"
        f"{NUTELLA};Nutella 400 g;4,29;grocery;5,5;;{price_change.isoformat()};\n"
        f"{PRESS};Quotidien;2,80;press;2,1;;;\n"
        f"{COLA};Cola 1,5 L;1,79;drinks;5,5;S001;;\n"
        f"{COLA};Cola 1,5 L;1,99;drinks;5,5;S002;;\n",
    )


def run(*args: str):
    return CliRunner().invoke(main, ["catalogue", *args])


def wait_held(conn, expected: dict, timeout: float = 10) -> bool:
    done = threading.Event()
    for _ in range(int(timeout / 0.05)):
        if catalogue_store.held(conn) == expected:
            return True
        done.wait(0.05)
    return False


def test_an_imported_catalogue_reaches_the_till_which_sells_from_it_offline(english, tmp_path, mosquitto):
    tomorrow = date.today() + timedelta(days=2)
    db = str(tmp_path / "server.db")
    result = run("import", catalogue_csv(tmp_path, tomorrow), "--db", db, "--broker", mosquitto.url)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {
        "file": "articles.csv",
        "versions": [
            {"scope": "S001", "version": 1, "articles": 1},
            {"scope": "S002", "version": 1, "articles": 1},
            {"scope": "all", "version": 1, "articles": 3},
        ],
    }

    till_db = str(tmp_path / "till.db")
    session = TillSession(till_db, "S001-T01", cashier="alice")
    listener = DownlinkListener(till_db, "S001-T01", parse_broker_url(mosquitto.url), trust()).start()
    try:
        assert wait_held(session.journal.conn, {"all": 1, "S001": 1}), catalogue_store.held(session.journal.conn)
    finally:
        listener.stop()  # offline from here on: the till sells from its journal
    line = session.scan(f"2*{NUTELLA}")
    assert (line.unit_cents, line.category, line.vat_rate, line.label) == (399, "grocery", 550, "Nutella 400 g")
    assert session.scan(COLA).unit_cents == 179  # the store's own price
    assert session.scan(PRESS).vat_rate == 210
    typed = session.scan("3000000000014@5.42")  # not in head office's catalogue: the typed-price path
    assert (typed.unit_cents, typed.vat_rate) == (542, 2000)
    session.pay("cash")
    ticket = session.close().ticket
    assert [(li.unit_cents, li.vat_rate) for li in ticket.lines] == [(399, 550), (179, 550), (280, 210), (542, 2000)]
    assert session.catalogue.get(NUTELLA, tomorrow).unit_cents == 429  # the price change from its day
    with pytest.raises(TillError, match="article 3000000000007 is not in the catalogue"):
        session.scan("3000000000007")  # the shipped articles are gone once head office has sent a catalogue
    session.close_session()

    assert [(r.scope, r.version) for r in _versions(db)] == [("all", 1), ("S001", 1), ("S002", 1)]
    again = run("import", catalogue_csv(tmp_path, tomorrow), "--db", db, "--broker", mosquitto.url, "--store", "S001")
    assert again.exit_code == 1
    assert again.output == (
        "Error: articles.csv refused, nothing changed:\n"
        "line 6, store: S002 is not the store imported (S001): leave it empty or import the file "
        "without --store\n"
    )


def _versions(db):
    from server.desk.catalogue import latest
    from server.ingest.store_api import open_store

    store = open_store(db)
    try:
        return [r.version for r in latest(store.conn)]
    finally:
        store.close()


def test_a_bad_file_changes_nothing_at_head_office_nor_on_the_broker(tmp_path, mosquitto):
    db = str(tmp_path / "server.db")
    good = write_csv(tmp_path, "good.csv", HEADER + f"{NUTELLA};Nutella;3,99;grocery;5,5;;;\n")
    assert run("import", good, "--db", db, "--broker", mosquitto.url).exit_code == 0
    bad = write_csv(
        tmp_path,
        "bad.csv",
        HEADER + f"{NUTELLA};Nutella;3,89;grocery;5,5;;;\n"
        f"3017620422004;Nutella;-1;grocery;5,5;;;\n"
        f"{PRESS};Quotidien;2,80;press;7;;;\n",
    )
    result = run("import", bad, "--db", db, "--broker", mosquitto.url)
    assert result.exit_code == 1
    assert result.output == (
        "Error: bad.csv refused, nothing changed:\n"
        "line 3, gtin: 3017620422004 has a wrong check digit: expected 3, got 4\n"
        "line 3, price: '-1' is negative: a price is 0 or more\n"
        "line 4, vat: '7' is not a French VAT rate: use 20, 10, 5,5 or 2,1\n"
    )
    listed = run("list", "--db", db)
    assert [json.loads(line)["source"] for line in listed.output.splitlines()] == ["good.csv"]
    retained = Listener(mosquitto.port, topics.catalogue("all"))
    try:
        assert retained.wait_for(lambda messages: messages)
        payload = trust().open("catalogue", retained.messages[0][1]).payload
        assert msgspec.json.decode(payload)["articles"][0]["unit_cents"] == 399
    finally:
        retained.client.disconnect()
        retained.client.loop_stop()


def test_the_till_refuses_an_unsigned_a_replayed_or_another_stores_catalogue(tmp_path):
    conn = sqlite3.connect(tmp_path / "till.db")
    now = utc_now()

    def message(scope, version, issued_at, price=399):
        payload = encode_version(
            CatalogueVersion(1, scope, version, now.isoformat(), [Article(NUTELLA, "Nutella", price, "grocery", 550)])
        )
        return signed("catalogue", payload, issued_at)

    assert catalogue_store.receive(conn, message("all", 2, now), now.isoformat(), trust(), "S001") == ("all", 2)
    refusals = [
        (
            message("all", 1, now - timedelta(hours=1)),
            f"catalogue message refused: issued at {(now - timedelta(hours=1)).isoformat()}, older than the one held "
            f"(issued at {now.isoformat()}): a replayed message: the till keeps its catalogue",
        ),
        (message("S002", 1, now), "catalogue message refused: it is store S002's, this till is in S001"),
        (
            encode_version(CatalogueVersion(1, "all", 3, now.isoformat(), [])),
            "catalogue message refused: not signed by head office (not a signed envelope): "
            "the till keeps its catalogue",
        ),
        (
            signed("offers", b"{}"),
            "catalogue message refused: the envelope is signed as a offers message: the till keeps its catalogue",
        ),
        (
            signed("catalogue", b'{"schema": 1, "scope": "all", "version": 0, "imported_at": "", "articles": []}'),
            "catalogue message not understood (Expected `int` >= 1 - at `$.version`): the till keeps its catalogue",
        ),
    ]
    for data, text in refusals:
        with pytest.raises(TillError) as refused:
            catalogue_store.receive(conn, data, now.isoformat(), trust(), "S001")
        assert str(refused.value) == text
    assert catalogue_store.held(conn) == {"all": 2}
    conn.close()


def test_until_a_catalogue_arrives_the_till_sells_the_shipped_demo_articles(tmp_path):
    session = TillSession(str(tmp_path / "till.db"), "S001-T01")
    line = session.scan(NUTELLA)
    assert (line.label, line.unit_cents, line.vat_rate) == ("Pâte à tartiner Nutella 400 g", 399, 550)
    session.close_session()


def test_a_raw_publisher_cannot_plant_a_catalogue(tmp_path, mosquitto):
    till_db = str(tmp_path / "till.db")
    listener = DownlinkListener(till_db, "S001-T01", parse_broker_url(mosquitto.url), trust()).start()
    publisher = RawPublisher(mosquitto.port)
    try:
        assert listener.subscribed.wait(10)
        publisher.publish(
            topics.catalogue("S001"),
            encode_version(
                CatalogueVersion(1, "S001", 9, utc_now().isoformat(), [Article(NUTELLA, "Nutella", 1, "grocery", 550)])
            ),
        )
        publisher.publish(
            topics.catalogue("all"),
            signed(
                "catalogue",
                encode_version(
                    CatalogueVersion(
                        1, "all", 1, utc_now().isoformat(), [Article(NUTELLA, "Nutella", 399, "grocery", 550)]
                    )
                ),
            ),
        )
        assert listener.catalogue_updated.wait(10)
    finally:
        publisher.close()
        listener.stop()
    conn = sqlite3.connect(till_db)
    assert catalogue_store.held(conn) == {"all": 1}
    conn.close()
