"""Tills asking head office: a balance and a ticket request's round trip through Mosquitto and the
uplink subscriber, and the card look-up with an ask, beside the broker's own round trip and the
till's local look-up (same run, same machine).
"""

from __future__ import annotations

import sys
import tempfile
import threading
import time
from pathlib import Path

from .common import summary_ms, table

SAMPLES = 300
QUICK_SAMPLES = 60
TICKETS = 2000


def broker_round_trip(url, samples: int) -> list[float]:
    """Baseline: one client publishes QoS 1 to a topic it subscribes to and waits for its own message."""
    from sync.mqtt import make_client
    from sync.requests import send_at_once

    client = make_client(url, "bench-echo")
    got, subscribed = threading.Event(), threading.Event()

    def on_connect(c, *args):
        send_at_once(c)  # as the till's and the uplink's clients do
        c.subscribe("bench/echo", qos=1)

    client.on_connect = on_connect
    client.on_subscribe = lambda *a: subscribed.set()
    client.on_message = lambda *a: got.set()
    client.connect(url.host, url.port)
    client.loop_start()
    subscribed.wait(10)
    times = []
    try:
        for _ in range(samples):
            got.clear()
            started = time.perf_counter()
            client.publish("bench/echo", b'{"schema": 1}', qos=1)
            got.wait(5)
            times.append(time.perf_counter() - started)
    finally:
        client.disconnect()
        client.loop_stop()
    return times


NODELAY = "set_tcp_nodelay true\n"  # as `loyalty broker config` writes it


def asks(requester, cards: list[str], tickets: int, samples: int) -> tuple[list[float], list[float]]:
    balances, found = [], []
    for n in range(samples):
        started = time.perf_counter()
        requester.ask("balance", 5.0, card=cards[n % len(cards)])
        balances.append(time.perf_counter() - started)
        started = time.perf_counter()
        requester.ask("ticket", 5.0, ticket_id=f"S001-T01-{n % tickets + 1:08d}")
        found.append(time.perf_counter() - started)
    return balances, found


def run(quick: bool = False) -> dict:
    from rich.progress import Progress

    from server.ingest.receive import Ingestor
    from server.ingest.uplink import Uplink
    from sync.broker_url import parse_broker_url
    from sync.mosquitto import Mosquitto
    from sync.sender import OutboxSender
    from terminal.journal import Journal
    from terminal.requests import Requester
    from terminal.sale import sell
    from terminal.simulate import Shopper
    from terminal.till import TillSession

    from server.ingest import request_limits

    # The bench times answers, not refusals: one till asks about hundreds of cards here, far past what head
    # office allows a real till (server/ingest/request_limits.py).
    request_limits.REQUEST_BURST = request_limits.REQUESTS_PER_MINUTE = 10**9
    request_limits.CARDS_PER_WINDOW = 10**9
    samples = QUICK_SAMPLES if quick else SAMPLES
    tickets = TICKETS // 4 if quick else TICKETS
    result = {"tickets": tickets, "samples": samples}
    with tempfile.TemporaryDirectory(prefix="bench-uplink-") as tmp, Progress(transient=True) as progress:
        tmp = Path(tmp)
        server_db = str(tmp / "server.db")
        task = progress.add_task(f"selling {tickets:,} tickets at till A", total=tickets)
        journal = Journal(tmp / "till-a.db", "S001-T01")
        cards = []
        for lines, card in Shopper(seed=1).baskets(tickets):
            sell(journal, lines, card)
            if card:
                cards.append(card)
            progress.advance(task)
        journal.close()
        cards = sorted(set(cards))
        result["cards"] = len(cards)
        for name, extra in (("mosquitto_defaults", ""), ("nodelay", NODELAY)):
            broker = Mosquitto(tmp / f"mosquitto-{name}", extra=extra).start()
            url = parse_broker_url(f"mqtt://127.0.0.1:{broker.port}")
            uplink = Uplink(server_db, url).start()
            requester = Requester("S002-T01", url).start()
            try:
                uplink.wait_subscribed(10)
                requester.ready.wait(10)
                if name == "mosquitto_defaults":  # head office gets the tickets once
                    with (
                        Ingestor(server_db, url, require_registered=False) as ingestor,
                        OutboxSender(str(tmp / "till-a.db"), "S001-T01", url) as sender,
                    ):
                        ingestor.wait_connected(10)
                        sender.wait_synced(120)
                n = samples // 3 if name == "mosquitto_defaults" else samples  # ~90 ms each there
                progress.add_task(f"{n} requests of each kind, broker with {name}", total=None)
                balances, found = asks(requester, cards, tickets, n)
                result[name] = {
                    "broker_round_trip": summary_ms(broker_round_trip(url, n)),
                    "ask_balance": summary_ms(balances),
                    "ask_ticket": summary_ms(found),
                }
                if name == "nodelay":
                    session = TillSession(str(tmp / "till-b.db"), "S002-T01", online=lambda: True, requester=requester)
                    asked, known = [], []
                    for n in range(samples):
                        card = cards[n % len(cards)]
                        with session.journal.conn:
                            session.journal.conn.execute("DELETE FROM known_balances WHERE card = ?", (card,))
                        started = time.perf_counter()
                        session.lookup_card(card)  # no balance known: asks head office
                        asked.append(time.perf_counter() - started)
                        started = time.perf_counter()
                        session.lookup_card(card)  # just kept: fresh, local only
                        known.append(time.perf_counter() - started)
                    session.close_session()
                    result[name]["lookup_with_ask"] = summary_ms(asked)
                    result[name]["lookup_local"] = summary_ms(known)
            finally:
                requester.stop()
                uplink.stop()
                broker.stop()
    return result


def markdown(result: dict) -> str:
    d, n = result["mosquitto_defaults"], result["nodelay"]
    rows = [
        (
            "broker round trip: QoS 1 publish to a topic the client reads, TCP_NODELAY client (baseline)",
            d["broker_round_trip"],
            n["broker_round_trip"],
        ),
        ("request `balance` -> uplink (ledger sum, desk lookup, tier) -> reply", d["ask_balance"], n["ask_balance"]),
        ("request `ticket` -> uplink (stored ticket by id) -> reply", d["ask_ticket"], n["ask_ticket"]),
    ]
    lines = [(name, a["p50_ms"], a["p99_ms"], b["p50_ms"], b["p99_ms"]) for name, a, b in rows]
    lines += [
        (
            "card typed, no balance known: hot-list + ask + keep + balance",
            "",
            "",
            n["lookup_with_ask"]["p50_ms"],
            n["lookup_with_ask"]["p99_ms"],
        ),
        (
            "card typed, balance known: hot-list + balance, local only (baseline)",
            "",
            "",
            n["lookup_local"]["p50_ms"],
            n["lookup_local"]["p99_ms"],
        ),
    ]
    return (
        f"## Till asks head office: a server with {result['tickets']:,} tickets ({result['cards']:,} cards), "
        f"{n['ask_balance']['n']} samples ({d['ask_balance']['n']} on Mosquitto's defaults)\n\n"
        + table(lines, ("operation", "Mosquitto defaults p50 ms", "p99 ms", "set_tcp_nodelay p50 ms", "p99 ms"))
        + "\n\nThe till and the uplink set TCP_NODELAY on their own sockets; `loyalty broker config` sets "
        "`set_tcp_nodelay true` on the broker. Without it each leg of a request waits for the previous "
        "packet's delayed TCP ack (about 40 ms). The till waits at most 0.5 s "
        "(`terminal.requests.ASK_TIMEOUT`) before showing the balance as not confirmed; the look-up runs in "
        "a worker, never the screen's thread.\n"
    )


if __name__ == "__main__":
    print(markdown(run("--quick" in sys.argv)))
