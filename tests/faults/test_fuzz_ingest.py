"""Hostile payloads thrown at ingest: every one dead-lettered with a reason, ingest goes on."""

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.ingest.receive import classify
from server.ingest.store import Store
from sync.codec import encode_ticket
from sync.topics import tickets as tickets_topic
from terminal.journal import Journal
from terminal.sale import sell
from terminal.simulate import Shopper

TOPIC = tickets_topic("S001-T01")
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


@pytest.fixture(scope="module")
def genuine(tmp_path_factory):
    path = tmp_path_factory.mktemp("fuzz")
    with Journal(path / "till.db", "S001-T01") as journal:
        shopper = Shopper(seed=5)
        return [encode_ticket(sell(journal, *shopper.basket())) for _ in range(3)]


def mutate(payload: bytes, path: list, value) -> bytes:
    """Replace one field of a genuine ticket message with a hostile value."""
    doc = msgspec.json.decode(payload)
    node = doc["ticket"]
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return msgspec.json.encode(doc)


FIELDS = [
    ["id"],
    ["seq"],
    ["store"],
    ["total_cents"],
    ["card"],
    ["lines"],
    ["tenders"],
    ["points"],
    ["closed_at"],
    ["prev_hash"],
    ["lines", 0, "quantity"],
    ["lines", 0, "gtin"],
    ["tenders", 0, "kind"],
]


@pytest.mark.timeout(120)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.binary(max_size=2048), field=st.sampled_from(FIELDS), value=json_values)
def test_hostile_payloads_are_dead_lettered_and_ingest_goes_on(tmp_path_factory, genuine, raw, field, value):
    store = Store(tmp_path_factory.mktemp("s") / "server.db")
    hostile = [raw, mutate(genuine[0], field, value), raw + genuine[1], b"\xff" * 300_000]
    good, dead = classify([(TOPIC, p) for p in hostile] + [(TOPIC, genuine[1])])
    result = store.ingest(good, dead, "2026-11-23T00:00:00+00:00")
    # The genuine ticket is always stored; each hostile payload is stored only if it is itself a valid ticket.
    assert store.conn.execute("SELECT count(*) FROM tickets WHERE id = 'S001-T01-00000002'").fetchone() == (1,)
    assert result.stored + result.dead_letters + result.duplicates == len(hostile) + 1
    reasons = [r for (r,) in store.conn.execute("SELECT reason FROM dead_letters")]
    assert all(reasons) and len(reasons) == result.dead_letters
    assert reasons[-1] == "payload of 300000 bytes exceeds the limit of 262144 bytes"
    store.close()
