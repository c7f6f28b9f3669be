"""Signed tickets and hash chains: tampering is detected and quarantined, never dropped."""

import json

import msgspec
from click.testing import CliRunner

from loyalty.cli import main
from programme.signing import sign_ticket
from server.ingest.receive import classify
from server.ingest.store import Store
from sync.codec import decode_ticket, encode_ticket
from sync.topics import tickets as tickets_topic
from terminal.journal import Journal
from terminal.keys import load_key
from terminal.sale import sell
from terminal.simulate import Shopper

NOW = "2026-11-23T12:00:00+00:00"
TOPIC = tickets_topic("S001-T01")


def provisioned(tmp_path):
    """A till key made and registered through the commands an operator would type."""
    made = CliRunner().invoke(
        main, ["till", "provision", "--terminal", "S001-T01", "--key-dir", str(tmp_path / "keys")]
    )
    assert made.exit_code == 0, made.output
    info = json.loads(made.output)
    registered = CliRunner().invoke(
        main,
        [
            "server",
            "register-till",
            "--db",
            str(tmp_path / "server.db"),
            "--terminal",
            "S001-T01",
            "--public-key",
            info["public_key"],
        ],
    )
    assert registered.exit_code == 0, registered.output
    return info["key"]


def signed_messages(tmp_path, key_path, count):
    shopper = Shopper(seed=2)
    with Journal(tmp_path / "till.db", "S001-T01", load_key(key_path)) as journal:
        return [encode_ticket(sell(journal, *shopper.basket())) for _ in range(count)]


def ingest(store, payloads):
    good, dead = classify([(TOPIC, p) for p in payloads])
    return store.ingest(good, dead, NOW)


def test_signed_tickets_are_stored_and_a_tampered_one_is_quarantined(tmp_path):
    key = provisioned(tmp_path)
    m1, m2, m3 = signed_messages(tmp_path, key, 3)
    raw = msgspec.json.decode(m2)
    raw["ticket"]["tenders"][0]["cents"] -= 100
    raw["ticket"]["lines"][0]["unit_cents"] -= 100
    raw["ticket"]["lines"][0]["total_cents"] -= 100 * raw["ticket"]["lines"][0]["quantity"]
    raw["ticket"]["tenders"][0]["cents"] = sum(line["total_cents"] for line in raw["ticket"]["lines"])
    raw["ticket"]["total_cents"] = raw["ticket"]["tenders"][0]["cents"]
    store = Store(tmp_path / "server.db")
    result = ingest(store, [m1, msgspec.json.encode(raw), m3])
    assert (result.stored, result.quarantined, result.acks) == (2, 1, {"S001-T01": 3})
    ((ticket_id, reason),) = store.conn.execute("SELECT ticket_id, reason FROM quarantine").fetchall()
    assert ticket_id == "S001-T01-00000002"
    assert reason == (
        "ticket S001-T01-00000002: the signature does not match its content "
        "(altered after the till closed it, or signed by another key)"
    )
    assert store.stats()["quarantined"] == 1
    # The genuine ticket, sent again by the till, is stored; the altered copy stays in quarantine.
    assert ingest(store, [m2]).stored == 1 and store.ticket_count() == 3
    assert store.stats()["quarantined"] == 1 and store.stats()["chain_breaks"] == 0


def test_unsigned_ticket_from_a_registered_till_is_quarantined(tmp_path):
    provisioned(tmp_path)
    shopper = Shopper(seed=2)
    with Journal(tmp_path / "unsigned.db", "S001-T01") as journal:
        payload = encode_ticket(sell(journal, *shopper.basket()))
    store = Store(tmp_path / "server.db")
    assert ingest(store, [payload]).quarantined == 1
    assert store.conn.execute("SELECT reason FROM quarantine").fetchone() == ("ticket S001-T01-00000001 is not signed",)


def test_a_broken_chain_is_recorded(tmp_path):
    key = provisioned(tmp_path)
    m1, m2 = signed_messages(tmp_path, key, 2)
    forged = decode_ticket(m2)
    forged = sign_ticket(msgspec.structs.replace(forged, prev_hash="f" * 64, signature=None), load_key(key))
    store = Store(tmp_path / "server.db")
    ingest(store, [encode_ticket(forged), m1])
    ((seq, found),) = store.conn.execute("SELECT seq, found_prev_hash FROM chain_breaks").fetchall()
    assert (seq, found) == (2, "f" * 64)
    assert store.stats()["chain_breaks"] == 1


def test_provisioning_never_overwrites_a_key(tmp_path):
    provisioned(tmp_path)
    again = CliRunner().invoke(
        main, ["till", "provision", "--terminal", "S001-T01", "--key-dir", str(tmp_path / "keys")]
    )
    assert again.exit_code == 1
    assert "exists already: this till is provisioned; its public key is " in again.output
