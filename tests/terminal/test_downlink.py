"""The retained hot-list from head office replaces the till's list, and the screen then refuses the card."""

import asyncio
import sqlite3

import msgspec
import pytest

from sync import topics
from sync.broker_url import parse_broker_url
from terminal.app import TillApp
from terminal.downlink import DownlinkListener
from terminal.downlink import apply_hotlist as apply_signed
from terminal.errors import TillError
from terminal.journal import Journal

from ..fixtures.mqtt import RawPublisher
from ..fixtures.signing import signed, trust

pytestmark = pytest.mark.usefixtures("english")  # written when the till spoke only English

LOST, STOLEN = "2900000000018", "2900000000025"


def hotlist_payload(cards: dict[str, str]) -> bytes:
    """The shape server.ingest.hotlist publishes, in head office's signed envelope."""
    return signed(
        "hotlist",
        msgspec.json.encode(
            {
                "schema": 1,
                "published_at": "2026-03-14T12:00:00+00:00",
                "cards": [{"card": c, "status": s, "since": "2026-03-01"} for c, s in cards.items()],
            }
        ),
    )


def apply_hotlist(conn, data: bytes) -> int:
    return apply_signed(conn, data, trust())


def test_apply_replaces_the_list_and_refuses_bad_messages(tmp_path):
    with Journal(tmp_path / "till.db", "S001-T01") as journal:
        assert apply_hotlist(journal.conn, hotlist_payload({LOST: "lost", STOLEN: "stolen"})) == 2
        assert apply_hotlist(journal.conn, hotlist_payload({STOLEN: "stolen"})) == 1
        assert journal.conn.execute("SELECT card, reason FROM hotlist").fetchall() == [(STOLEN, "stolen")]
        with pytest.raises(TillError) as err:
            apply_hotlist(journal.conn, signed("hotlist", b'{"schema": 2, "cards": []}'))
        assert str(err.value) == (
            "hot-list schema 2 is not known to this till (1 expected): the till keeps its "
            "previous list; update the till software"
        )
        assert journal.conn.execute("SELECT count(*) FROM hotlist").fetchone() == (1,)


@pytest.mark.timeout(60)
def test_retained_hotlist_reaches_the_screen(tmp_path, mosquitto):
    publisher = RawPublisher(mosquitto.port)
    publisher.client.publish(topics.HOTLIST, hotlist_payload({LOST: "lost"}), qos=1, retain=True).wait_for_publish(10)
    publisher.close()
    db = str(tmp_path / "till.db")
    Journal(db, "S001-T01").close()
    listener = DownlinkListener(db, "S001-T01", parse_broker_url(mosquitto.url)).start()
    try:
        assert listener.updated.wait(10), "the retained hot-list did not arrive"
    finally:
        listener.stop()
    assert sqlite3.connect(db).execute("SELECT card, reason FROM hotlist").fetchall() == [(LOST, "lost")]

    async def screen():
        app = TillApp(db, "S001-T01", broker=parse_broker_url(mosquitto.url))
        async with app.run_test(size=(130, 40)) as pilot:
            await pilot.press("f2")
            app.screen.query_one("#entry").value = LOST
            await pilot.press("enter")
            await app.workers.wait_for_complete()
            await pilot.pause()
            assert str(app.screen.query_one("#card").render()).startswith("card blocked (lost): card *********0018")

    asyncio.run(screen())
