"""Checks done as tickets arrive (server/ingest/precheck.py) are used only while they still hold."""

import msgspec

from server.ingest.receive import classify
from server.ingest.precheck import precheck
from server.ingest.store import Store
from sync.codec import decode_ticket, encode_ticket
from sync.topics import tickets as tickets_topic
from terminal.journal import Journal
from terminal.keys import load_key, provision
from terminal.sale import sell
from terminal.simulate import Shopper

NOW = "2026-11-23T12:00:00+00:00"
TOPIC = tickets_topic("S001-T01")


def sold(tmp_path, count, key=None):
    shopper = Shopper(seed=3)
    with Journal(tmp_path / "till.db", "S001-T01", key) as journal:
        return [encode_ticket(sell(journal, *shopper.basket())) for _ in range(count)]


def prechecked(store, payloads):
    """What the ingest's paho thread hands to the store: classify, then the store's precheck."""
    good, dead = classify([(TOPIC, p) for p in payloads])
    return [(*item, store.precheck(item[1])) for item in good], dead


def test_a_key_registered_after_the_precheck_is_checked_in_the_batch(tmp_path):
    key_path, public_key = provision("S001-T01", tmp_path / "keys")
    genuine = sold(tmp_path, 2, load_key(key_path))
    raw = msgspec.json.decode(genuine[1])
    raw["ticket"]["cashier"] = "mallory"  # altered after signing
    store = Store(tmp_path / "server.db")
    store.ingest(*prechecked(store, []), NOW)  # the store has loaded its (empty) keys
    items, dead = prechecked(store, [genuine[0], msgspec.json.encode(raw)])
    assert [item[3].signature_error for item in items] == [None, None]  # no key for this till yet
    store.register_till("S001-T01", public_key, NOW)
    result = store.ingest(items, dead, NOW)
    assert (result.stored, result.quarantined) == (1, 1)
    assert store.conn.execute("SELECT ticket_id, reason FROM quarantine").fetchall() == [
        (
            "S001-T01-00000002",
            "ticket S001-T01-00000002: the signature does not match its content "
            "(altered after the till closed it, or signed by another key)",
        )
    ]


def test_a_precheck_with_the_current_keys_is_taken_as_it_is(tmp_path):
    key_path, public_key = provision("S001-T01", tmp_path / "keys")
    (payload,) = sold(tmp_path, 1, load_key(key_path))
    store = Store(tmp_path / "server.db")
    store.register_till("S001-T01", public_key, NOW)
    store.ingest([], [], NOW)
    (item,), _ = prechecked(store, [payload])
    forged = item[3].__class__(item[3].digest, item[3].keys, "forged verdict", False, None)
    result = store.ingest([(*item[:3], forged)], [], NOW)
    # The verdict reached against these very keys is the store's: this one says the signature failed.
    assert result.quarantined == 1
    assert store.conn.execute("SELECT reason FROM quarantine").fetchone() == ("forged verdict",)


def test_points_prechecked_agree_with_the_batch_check(tmp_path):
    payloads = sold(tmp_path, 12)
    raw = msgspec.json.decode(payloads[4])
    entry = next(e for e in raw["ticket"]["points"] if e["points"] > 0)
    entry["points"] += 3
    payloads[4] = msgspec.json.encode(raw)
    plain, with_checks = Store(tmp_path / "a.db"), Store(tmp_path / "b.db")
    for store in (plain, with_checks):
        store.ingest([], [], NOW)  # loads keys and rules, as the first batch does
    good, dead = classify([(TOPIC, p) for p in payloads])
    plain.ingest(good, dead, NOW)
    items, dead = prechecked(with_checks, payloads)
    assert sum(item[3].points_checked for item in items) == 12
    with_checks.ingest(items, dead, NOW)
    query = "SELECT ticket_id, till_points, server_points, reason FROM discrepancies"
    found = with_checks.conn.execute(query).fetchall()
    assert found == plain.conn.execute(query).fetchall() and [r[0] for r in found] == ["S001-T01-00000005"]


def test_a_ticket_claiming_an_offer_is_left_to_the_batch(tmp_path):
    payload = next(p for p in sold(tmp_path, 10) if msgspec.json.decode(p)["ticket"]["card"])
    raw = msgspec.json.decode(payload)
    raw["ticket"]["points"].append({"kind": "earn", "points": 50, "rule": "offer:7", "line": None})
    ticket = decode_ticket(msgspec.json.encode(raw), "S001-T01")
    store = Store(tmp_path / "server.db")
    store.ingest([], [], NOW)
    assert precheck(ticket, store._keys, store._rules).points_checked is False
    assert store.precheck(decode_ticket(payload, "S001-T01")).points_checked is True
