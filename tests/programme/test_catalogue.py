"""The article catalogue from an ERP's CSV: a good file, each kind of bad line (exact texts), price changes by day."""

from datetime import date

import msgspec
import pytest

from programme.catalogue import (
    Article,
    Catalogue,
    CatalogueError,
    CatalogueVersion,
    decode_version,
    demo_catalogue,
    encode_version,
    gtin_problem,
    parse_csv,
)

HEADER = "gtin;label;price;category;vat;store;valid_from;valid_to\n"
NUTELLA = "3017620422003"


def refused(text: str) -> list[str]:
    with pytest.raises(CatalogueError) as caught:
        parse_csv(text)
    return caught.value.errors


def test_a_good_file_gives_articles_by_scope_with_prices_in_cents_and_rates_in_basis_points():
    text = (
        HEADER + f"{NUTELLA};Nutella 400 g;3,99;grocery;5,5;;;\n"
        "96385074;Quotidien;2.80;press;2,1;;2026-01-01;31/12/2026\n"
        "5000112637922;Cola 1,5 L;1,99;drinks;5.5;S001;;\n"
        '"3068320114453";"Eau, 6 x 1,5 L";3;drinks;20 %;;;\n'
    )
    scopes = parse_csv("\ufeff" + text)  # a spreadsheet's byte order mark is skipped
    assert scopes["all"] == [
        Article(NUTELLA, "Nutella 400 g", 399, "grocery", 550),
        Article("96385074", "Quotidien", 280, "press", 210, date(2026, 1, 1), date(2026, 12, 31)),
        Article("3068320114453", "Eau, 6 x 1,5 L", 300, "drinks", 2000),
    ]
    assert scopes["S001"] == [Article("5000112637922", "Cola 1,5 L", 199, "drinks", 550)]


def test_a_comma_separated_file_with_only_the_required_columns_reads_too():
    scopes = parse_csv(f"gtin,label,price,category,vat\n{NUTELLA},Nutella,3.99,grocery,10\n")
    assert scopes == {"all": [Article(NUTELLA, "Nutella", 399, "grocery", 1000)]}


@pytest.mark.parametrize(
    "line, error",
    [
        (
            "3017620422004;Nutella;3,99;grocery;5,5;;;",
            "line 2, gtin: 3017620422004 has a wrong check digit: expected 3, got 4",
        ),
        ("30176204;Nutella;3,99;grocery;5,5;;;", "line 2, gtin: 30176204 has a wrong check digit: expected 1, got 4"),
        (
            "301762042200;Nutella;3,99;grocery;5,5;;;",
            "line 2, gtin: 301762042200 has a wrong check digit: expected 9, got 0",
        ),
        ("30176;Nutella;3,99;grocery;5,5;;;", "line 2, gtin: '30176' is not a GTIN: 8, 12, 13 or 14 digits"),
        (f"{NUTELLA};;3,99;grocery;5,5;;;", "line 2, label: empty: give the article's label"),
        (f"{NUTELLA};Nutella;3,99;;5,5;;;", "line 2, category: empty: give the article's category"),
        (f"{NUTELLA};Nutella;-3,99;grocery;5,5;;;", "line 2, price: '-3,99' is negative: a price is 0 or more"),
        (
            f"{NUTELLA};Nutella;3,999;grocery;5,5;;;",
            "line 2, price: '3,999' is not a price in euros: write it like 1,99 or 1.99",
        ),
        (
            f"{NUTELLA};Nutella;100000,01;grocery;5,5;;;",
            "line 2, price: '100000,01' is above the limit of 100000 euros for one unit",
        ),
        (f"{NUTELLA};Nutella;3,99;grocery;7;;;", "line 2, vat: '7' is not a French VAT rate: use 20, 10, 5,5 or 2,1"),
        (
            f"{NUTELLA};Nutella;3,99;grocery;19,6;;;",
            "line 2, vat: '19,6' is not a French VAT rate: use 20, 10, 5,5 or 2,1",
        ),
        (
            f"{NUTELLA};Nutella;3,99;grocery;5,5;Lyon;;",
            "line 2, store: 'Lyon' is not a store id: write it like S001, or leave it empty for every store",
        ),
        (
            f"{NUTELLA};Nutella;3,99;grocery;5,5;;2026-13-01;",
            "line 2, valid_from: '2026-13-01' is not a date: write it like 2026-12-01 or 01/12/2026",
        ),
        (
            f"{NUTELLA};Nutella;3,99;grocery;5,5;;2026-12-10;2026-12-01",
            "line 2, valid_to: 2026-12-01 is before valid_from 2026-12-10",
        ),
        (f"{NUTELLA};Nutella;3,99;grocery;5,5", "line 2: 5 cells, the header has 8"),
    ],
)
def test_each_kind_of_bad_line_is_named_by_line_and_field(line, error):
    assert refused(HEADER + line + "\n") == [error]


def test_one_bad_line_refuses_the_whole_file_and_every_error_is_listed():
    text = (
        HEADER + f"{NUTELLA};Nutella;3,99;grocery;5,5;;;\n"
        "\n"
        f"{NUTELLA};Nutella;4,29;grocery;5,5;;;\n"
        "3017620422004;X;-1;grocery;8;;;\n"
    )
    with pytest.raises(CatalogueError) as caught:
        parse_csv(text)
    assert str(caught.value) == (
        f"line 4, gtin: {NUTELLA} already has a price with no valid_from (line 2): a price change needs its own "
        "valid_from\n"
        "line 5, gtin: 3017620422004 has a wrong check digit: expected 3, got 4\n"
        "line 5, price: '-1' is negative: a price is 0 or more\n"
        "line 5, vat: '8' is not a French VAT rate: use 20, 10, 5,5 or 2,1"
    )


@pytest.mark.parametrize(
    "text, error",
    [
        ("", "line 1: no header: the header is gtin;label;price;category;vat and optionally store;valid_from;valid_to"),
        (
            "gtin;label;price;category\n",
            "line 1: missing column vat: the header is gtin;label;price;category;vat and optionally "
            "store;valid_from;valid_to",
        ),
        (
            "gtin;label;price;category;vat;colour\n",
            "line 1: unknown column 'colour': the header is gtin;label;price;category;vat and optionally "
            "store;valid_from;valid_to",
        ),
        (HEADER, "the file lists no article: one article a line under the header"),
    ],
)
def test_a_file_without_a_usable_header_or_articles_is_refused(text, error):
    assert refused(text) == [error]


def test_a_price_change_takes_effect_from_its_day_and_a_store_price_wins_over_the_chains():
    scopes = parse_csv(
        HEADER + f"{NUTELLA};Nutella;3,99;grocery;5,5;;;\n"
        f"{NUTELLA};Nutella;4,29;grocery;5,5;;2026-12-10;\n"
        f"{NUTELLA};Nutella promo;3,49;grocery;5,5;;2026-12-20;2026-12-24\n"
        f"{NUTELLA};Nutella;3,79;grocery;5,5;S001;2026-12-15;\n"
    )
    chain = Catalogue(scopes["all"])
    prices = {day: chain.article(NUTELLA, date(2026, 12, day)).unit_cents for day in (9, 10, 19, 20, 24, 25)}
    assert prices == {9: 399, 10: 429, 19: 429, 20: 349, 24: 349, 25: 429}
    store = Catalogue(scopes["S001"], scopes["all"])
    assert store.article(NUTELLA, date(2026, 12, 14)).unit_cents == 429  # the store's price starts on the 15th
    assert store.article(NUTELLA, date(2026, 12, 15)).unit_cents == 379
    assert store.article("5000112637922", date(2026, 12, 15)) is None
    assert len(store) == 1


def test_a_published_version_round_trips_and_a_bad_message_is_refused():
    version = CatalogueVersion(
        1, "S001", 3, "2026-12-05T10:00:00+00:00", [Article(NUTELLA, "Nutella", 399, "grocery", 550, date(2026, 12, 1))]
    )
    assert decode_version(encode_version(version)) == version
    raw = msgspec.json.decode(encode_version(version))
    raw["articles"][0]["vat_rate"] = 700
    with pytest.raises(CatalogueError) as caught:
        decode_version(msgspec.json.encode(raw))
    assert str(caught.value) == (
        "catalogue message not understood (Invalid enum value 700 - at `$.articles[0].vat_rate`)"
    )


def test_the_shipped_demo_catalogue_has_hundreds_of_valid_articles_across_the_four_rates():
    scopes = demo_catalogue()
    articles = scopes["all"]
    assert len(articles) >= 300
    assert {a.vat_rate for a in articles} == {2000, 1000, 550, 210}
    assert all(gtin_problem(a.gtin) is None for a in articles)
    assert {"electronics", "books", "infant_formula", "tobacco", "press"} <= {a.category for a in articles}
    assert Catalogue(articles).article(NUTELLA, date(2026, 12, 5)).unit_cents == 399


def test_a_file_imported_for_one_store_is_all_that_stores():
    text = HEADER + f"{NUTELLA};Nutella;3,99;grocery;5,5;;;\n5000112637922;Cola;1,99;drinks;5,5;S001;;\n"
    assert {scope: len(rows) for scope, rows in parse_csv(text, store="S001").items()} == {"S001": 2}
    with pytest.raises(CatalogueError) as caught:
        parse_csv(text, store="S002")
    assert caught.value.errors == [
        "line 3, store: S001 is not the store imported (S002): leave it empty or import the file without --store"
    ]
