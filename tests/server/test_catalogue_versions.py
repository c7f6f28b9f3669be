"""Head office keeps every imported catalogue version, per scope, on both engines; a bad file records nothing."""

import pytest

from programme.catalogue import CatalogueError
from server.desk.catalogue import import_csv, latest, versions

HEADER = "gtin;label;price;category;vat;store\n"
GOOD = HEADER + "3017620422003;Nutella;3,99;grocery;5,5;\n5000112637922;Cola;1,79;drinks;5,5;S001\n"


def test_each_import_makes_the_next_version_of_each_scope_it_fills(store):
    first = import_csv(store.conn, GOOD, "a.csv", "2026-12-05T10:00:00+00:00")
    assert [(r.scope, r.version.version) for r in first] == [("S001", 1), ("all", 1)]
    second = import_csv(
        store.conn, HEADER + "3017620422003;Nutella;4,19;grocery;5,5;\n", "b.csv", "2026-12-06T10:00:00+00:00"
    )
    assert [(r.scope, r.version.version) for r in second] == [("all", 2)]
    assert [(r.scope, r.version.version, r.version.articles[0].unit_cents) for r in latest(store.conn)] == [
        ("all", 2, 419),
        ("S001", 1, 179),
    ]
    assert [(v["scope"], v["version"], v["source"], v["articles"]) for v in versions(store.conn)] == [
        ("all", 2, "b.csv", 1),
        ("S001", 1, "a.csv", 1),
        ("all", 1, "a.csv", 1),
    ]
    with pytest.raises(CatalogueError):
        import_csv(store.conn, GOOD + "3017620422004;Bad;1;grocery;5,5;\n", "c.csv", "2026-12-07T10:00:00+00:00")
    assert len(versions(store.conn)) == 3
