"""The demo: a broker, the server and K simulated tills in one process, selling N tickets end to end."""

from __future__ import annotations

import contextlib
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from programme.catalogue import DEMO_CSV
from server.desk.catalogue import Recorded, import_csv, publish
from server.ingest.receive import Ingestor
from server.ingest.store import Store
from sync.broker_url import BrokerUrl, parse_broker_url
from sync.embedded_broker import EmbeddedBroker
from sync.errors import SyncTimeout
from sync.retained import publish_signed
from sync.sender import OutboxSender
from sync.signed import Signer, make_key
from terminal.downlink import DownlinkListener
from terminal.journal import Journal
from terminal.sale import sell
from terminal.simulate import Shopper

SYNC_TIMEOUT = 120.0
CATALOGUE_TIMEOUT = 30.0  # seconds for the tills to receive the demo catalogue


def _import_demo_catalogue(db: Path) -> list[Recorded]:
    """Head office imports the shipped demo catalogue (programme/demo_catalogue.csv) as the next version."""
    from importlib.resources import files

    from programme.ticket import utc_now

    store = Store(db)
    try:
        return import_csv(
            store.conn,
            files("programme").joinpath(DEMO_CSV).read_text(encoding="utf-8"),
            DEMO_CSV,
            utc_now().isoformat(),
        )
    finally:
        store.close()


def _in_force(recorded: list[Recorded], store: str) -> list:
    from programme.catalogue import Catalogue
    from programme.engine import local_day
    from programme.points import default_rules
    from programme.ticket import utc_now

    scopes = {r.scope: r.version.articles for r in recorded}
    catalogue = Catalogue(scopes.get(store, []), scopes.get("all", []))
    today = local_day(default_rules(), utc_now())
    return [a for a in (catalogue.article(gtin, today) for gtin in catalogue.gtins()) if a is not None]


def _push_catalogue(recorded: list[Recorded], url: BrokerUrl, signer: Signer, journals, stack) -> None:
    """Publish the catalogue retained and signed, and wait for every till to keep it in its journal."""
    listeners = [DownlinkListener(j.path, j.terminal, url, signer.trust()) for j in journals]
    for listener in listeners:
        stack.callback(listener.stop)
        listener.start()
    publish(
        recorded,
        lambda topic, payload: publish_signed(
            url, topic, "catalogue", payload, "loyalty-demo-catalogue", "the demo catalogue", signer
        ),
    )
    for listener in listeners:
        if not listener.catalogue_updated.wait(CATALOGUE_TIMEOUT):
            raise SyncTimeout(
                f"till {listener.terminal} did not receive the demo catalogue within {CATALOGUE_TIMEOUT:g} s from {url}"
            )


def run_demo(
    tickets: int,
    tills: int,
    broker: str | None = None,
    workdir: str | None = None,
    on_sale: Callable[[], None] = lambda: None,
) -> dict:
    """Sell `tickets` spread over `tills` tills, wait for every ack, return a summary."""
    base = Path(workdir or tempfile.mkdtemp(prefix="loyalty-demo-"))
    base.mkdir(parents=True, exist_ok=True)
    signing_key = base / "head-office.key"  # the demo's own head-office key: LOYALTY_SIGNING_KEY for its pushes
    if not signing_key.exists():
        make_key(signing_key)
    started = time.monotonic()
    recorded = _import_demo_catalogue(base / "server.db")
    with contextlib.ExitStack() as stack:
        if broker is None:
            embedded = stack.enter_context(EmbeddedBroker())
            broker = embedded.url
        url = parse_broker_url(broker)
        # The demo's tills are not registered: the one place where their tickets are taken anyway.
        stack.enter_context(
            Ingestor(str(base / "server.db"), url, client_id="loyalty-demo-server", require_registered=False)
        )
        terminals = [f"S001-T{n + 1:02d}" for n in range(tills)]
        journals = [stack.enter_context(Journal(base / f"till-{t}.db", t)) for t in terminals]
        senders = [stack.enter_context(OutboxSender(j.path, j.terminal, url)) for j in journals]
        _push_catalogue(recorded, url, Signer.load(signing_key), journals, stack)
        # The tills sell the catalogue head office pushed, at each article's price of the day and its VAT rate.
        articles = _in_force(recorded, "S001")
        shoppers = [Shopper(seed=n, articles=articles) for n in range(tills)]
        for n in range(tickets):
            k = n % tills
            lines, card = shoppers[k].basket()
            sell(journals[k], lines, card)
            senders[k].wake()
            on_sale()
        deadline = time.monotonic() + SYNC_TIMEOUT
        for sender in senders:
            if not sender.wait_synced(max(0.0, deadline - time.monotonic())):
                raise SyncTimeout(
                    f"till {sender.terminal} still has {sender.status.backlog} tickets unacked after "
                    f"{SYNC_TIMEOUT:g} s; its journal is {sender.db_path}"
                )
    store = Store(base / "server.db")
    try:
        stats = store.stats()
    finally:
        store.close()
    archived = _archive(base / "server.db")
    return {
        "tickets_sent": tickets,
        "tickets_stored": stats["tickets"],
        "points_earned": stats["points_earned"],
        "total_cents": stats["total_cents"],
        "dead_letters": stats["dead_letters"],
        "tills": tills,
        "broker": str(url),
        "seconds": round(time.monotonic() - started, 2),
        "workdir": str(base),
        "head_office_key": str(signing_key),
        "catalogue": {r.scope: {"version": r.version.version, "articles": len(r.version.articles)} for r in recorded},
        "archive": archived,
    }


def _archive(db: Path) -> str:
    """The head-office archive beside the demo's database (`loyalty office export`), which the office pages read."""
    from server.analytics.archive import default_archive, export
    from server.storage.connection import open_connection

    conn = open_connection(str(db))
    try:
        return export(conn, default_archive(db))["archive"]
    finally:
        conn.close()
