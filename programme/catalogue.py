"""The article catalogue: what a till sells, at which price, category and VAT rate, from which day.

Head office imports the CSV the store's ERP exports (`parse_csv`); every error names the line and the field,
and one bad line refuses the whole file. A catalogue is published per scope (every store, or one store) as a
numbered version; a till looks an article up at the ticket's local day (`Catalogue.article`), so a price
change takes effect from its date. Pure: text in, values out.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from typing import Annotated, Literal

import msgspec

from .cardnumber import check_digit
from .errors import ProgrammeError
from .ticket import MAX_TEXT, MAX_UNIT_CENTS
from .vat import RATES

ALL_STORES = "all"  # the scope of a catalogue every store sells from
STORE_ID = re.compile(r"^S\d{3,5}$")
GTIN_FORM = re.compile(r"^\d{8}$|^\d{12,14}$")
MAX_ARTICLES = 200_000  # rows of one file (a hypermarket lists about 50,000 articles)
MAX_CSV_BYTES = 64 * 1024 * 1024
MAX_ERRORS = 20  # errors listed before the rest are only counted
COLUMNS = ("gtin", "label", "price", "category", "vat")
OPTIONAL_COLUMNS = ("store", "valid_from", "valid_to")
HEADER_HELP = "the header is gtin;label;price;category;vat and optionally store;valid_from;valid_to"
_PRICE = re.compile(r"^(\d{1,9})(?:[.,](\d{1,2}))?$")
_VAT = {"20": 2000, "10": 1000, "5.5": 550, "2.1": 210}
SCHEMA_VERSION = 1


class CatalogueError(ProgrammeError):
    """A catalogue file or message is refused; `errors` lists each line's problem ("line 3, price: ...")."""

    def __init__(self, errors: list[str]):
        self.errors = errors
        shown = errors[:MAX_ERRORS]
        more = len(errors) - len(shown)
        text = "\n".join(shown) + (f"\n... and {more} more errors" if more > 0 else "")
        super().__init__(text)


Gtin = Annotated[str, msgspec.Meta(pattern=r"^(\d{8}|\d{12,14})$")]
Label = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_TEXT)]
Price = Annotated[int, msgspec.Meta(ge=0, le=MAX_UNIT_CENTS)]
Rate = Literal[2000, 1000, 550, 210]


class Article(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One row of the catalogue: `unit_cents` TTC, `vat_rate` in basis points, valid from/to (days, inclusive)."""

    gtin: Gtin
    label: Label
    unit_cents: Price
    category: Label
    vat_rate: Rate
    valid_from: date | None = None
    valid_to: date | None = None

    def in_force(self, day: date) -> bool:
        return (self.valid_from is None or self.valid_from <= day) and (self.valid_to is None or day <= self.valid_to)


class CatalogueVersion(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A published catalogue: version `version` of scope `scope` ("all" or a store id such as S001)."""

    schema: Literal[1]
    scope: Annotated[str, msgspec.Meta(pattern=r"^(all|S\d{3,5})$")]
    version: Annotated[int, msgspec.Meta(ge=1, le=2**53)]
    imported_at: str
    articles: Annotated[list[Article], msgspec.Meta(max_length=MAX_ARTICLES)]


_decoder = msgspec.json.Decoder(CatalogueVersion)


def encode_version(version: CatalogueVersion) -> bytes:
    return msgspec.json.encode(version)


def decode_version(payload: bytes) -> CatalogueVersion:
    """A catalogue message's payload, checked; CatalogueError says what is wrong."""
    try:
        version = _decoder.decode(payload)
    except msgspec.DecodeError as exc:
        raise CatalogueError([f"catalogue message not understood ({exc})"]) from None
    problems = _overlaps(version.articles, lambda index: f"article {index + 1}")
    if problems:
        raise CatalogueError(problems)
    return version


def gtin_problem(text: str) -> str | None:
    """What is wrong with a GTIN (form, then GS1 check digit), or None."""
    if not GTIN_FORM.match(text):
        return f"{text!r} is not a GTIN: 8, 12, 13 or 14 digits"
    expected = check_digit(text[:-1])
    if int(text[-1]) != expected:
        return f"{text} has a wrong check digit: expected {expected}, got {text[-1]}"
    return None


def make_gtin(body: str) -> str:
    """Append the GS1 check digit to 7, 11, 12 or 13 digits."""
    return body + str(check_digit(body))


def parse_price(text: str) -> int:
    """Euros with a comma or a dot ("1,99", "1.99", "12") as cents; ValueError with the reason."""
    cleaned = text.strip().replace("\u00a0", "").replace(" ", "").removesuffix("€")
    if cleaned.startswith("-") and _PRICE.match(cleaned[1:]):
        raise ValueError(f"{text!r} is negative: a price is 0 or more")
    match = _PRICE.match(cleaned)
    if not match:
        raise ValueError(f"{text!r} is not a price in euros: write it like 1,99 or 1.99")
    units, decimals = match.groups()
    cents = int(units) * 100 + int((decimals or "0").ljust(2, "0"))
    if cents > MAX_UNIT_CENTS:
        raise ValueError(f"{text!r} is above the limit of {MAX_UNIT_CENTS // 100} euros for one unit")
    return cents


def parse_vat(text: str) -> int:
    """ "20", "10", "5,5", "5.5", "2,1" (a trailing % allowed) as basis points; ValueError otherwise."""
    cleaned = text.strip().removesuffix("%").strip().replace(",", ".")
    if re.fullmatch(r"\d+\.\d*?0+", cleaned):  # "20.0", "5.50"
        cleaned = cleaned.rstrip("0").rstrip(".")
    rate = _VAT.get(cleaned)
    if rate is None:
        raise ValueError(f"{text!r} is not a French VAT rate: use 20, 10, 5,5 or 2,1")
    return rate


def parse_day(text: str) -> date:
    """2026-12-01 or 01/12/2026; ValueError otherwise."""
    cleaned = text.strip()
    for pattern in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return datetime.strptime(cleaned, pattern).date()
        except ValueError:
            continue
    raise ValueError(f"{text!r} is not a date: write it like 2026-12-01 or 01/12/2026")


def _delimiter(header: str) -> str:
    return ";" if header.count(";") >= header.count(",") and ";" in header else ","


def parse_csv(text: str, store: str | None = None) -> dict[str, list[Article]]:
    """The articles of an ERP's CSV export by scope ("all", or the store a row names); with `store`, the whole
    file is that store's (a row naming another store is an error).

    CatalogueError lists every bad line ("line 3, price: ..."); nothing is returned then."""
    if text.startswith("\ufeff"):  # spreadsheets save UTF-8 with a byte order mark
        text = text[1:]
    first = text.split("\n", 1)[0]
    if not first.strip():
        raise CatalogueError([f"line 1: no header: {HEADER_HELP}"])
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(first))
    header = [cell.strip().lower() for cell in next(reader)]
    unknown = [name for name in header if name not in COLUMNS + OPTIONAL_COLUMNS]
    missing = [name for name in COLUMNS if name not in header]
    if unknown or missing or len(set(header)) != len(header):
        what = (
            f"unknown column {', '.join(map(repr, unknown))}"
            if unknown
            else f"missing column {', '.join(missing)}"
            if missing
            else "a column is named twice"
        )
        raise CatalogueError([f"line 1: {what}: {HEADER_HELP}"])
    errors: list[str] = []
    rows: list[tuple[int, str, Article]] = []
    for cells in reader:
        number = reader.line_num
        if not any(cell.strip() for cell in cells):
            continue
        if len(rows) >= MAX_ARTICLES:
            raise CatalogueError([f"line {number}: more than {MAX_ARTICLES} articles: split the file by store"])
        if len(cells) != len(header):
            errors.append(f"line {number}: {len(cells)} cells, the header has {len(header)}")
            continue
        row = _row(number, dict(zip(header, (cell.strip() for cell in cells))), errors, store)
        if row is not None:
            rows.append((number, *row))
    if not rows and not errors:
        raise CatalogueError(["the file lists no article: one article a line under the header"])
    by_scope: dict[str, list[tuple[int, Article]]] = {}
    for number, scope, article in rows:
        by_scope.setdefault(scope, []).append((number, article))
    for scope, numbered in by_scope.items():
        lines = [n for n, _ in numbered]
        errors.extend(_overlaps([a for _, a in numbered], lambda index: f"line {lines[index]}"))
    if errors:
        raise CatalogueError(sorted(errors, key=_line_number))
    return {scope: [a for _, a in numbered] for scope, numbered in sorted(by_scope.items())}


def _line_number(error: str) -> int:
    match = re.match(r"line (\d+)", error)
    return int(match.group(1)) if match else 0


def _row(number: int, cells: dict[str, str], errors: list[str], store: str | None) -> tuple[str, Article] | None:
    before = len(errors)

    def bad(field: str, problem: str) -> None:
        errors.append(f"line {number}, {field}: {problem}")

    gtin = cells["gtin"]
    if (problem := gtin_problem(gtin)) is not None:
        bad("gtin", problem)
    for field in ("label", "category"):
        if not cells[field]:
            bad(field, f"empty: give the article's {field}")
        elif len(cells[field]) > MAX_TEXT:
            bad(field, f"{len(cells[field])} characters, at most {MAX_TEXT}")
    price = vat = 0
    try:
        price = parse_price(cells["price"])
    except ValueError as exc:
        bad("price", str(exc))
    try:
        vat = parse_vat(cells["vat"])
    except ValueError as exc:
        bad("vat", str(exc))
    scope = cells.get("store") or store or ALL_STORES
    if scope != ALL_STORES and not STORE_ID.match(scope):
        bad("store", f"{scope!r} is not a store id: write it like S001, or leave it empty for every store")
    elif store is not None and scope != store:
        bad("store", f"{scope} is not the store imported ({store}): leave it empty or import the file without --store")
    days: dict[str, date | None] = {}
    for field in ("valid_from", "valid_to"):
        days[field] = None
        if cells.get(field):
            try:
                days[field] = parse_day(cells[field])
            except ValueError as exc:
                bad(field, str(exc))
    if days["valid_from"] and days["valid_to"] and days["valid_to"] < days["valid_from"]:
        bad("valid_to", f"{days['valid_to']} is before valid_from {days['valid_from']}")
    if len(errors) > before:
        return None
    assert vat in RATES
    return scope, Article(
        gtin,
        cells["label"],
        price,
        cells["category"],
        vat,  # type: ignore[arg-type]
        days["valid_from"],
        days["valid_to"],
    )


def _overlaps(articles: list[Article], where) -> list[str]:
    """Two rows of one GTIN from the same day: the till could not tell which price is in force. (A row from a
    later day is a price change: it supersedes the earlier row from its day on.)"""
    problems = []
    seen: dict[tuple[str, date | None], int] = {}
    for index, article in enumerate(articles):
        first = seen.setdefault((article.gtin, article.valid_from), index)
        if first != index:
            since = f"from {article.valid_from}" if article.valid_from else "with no valid_from"
            problems.append(
                f"{where(index)}, gtin: {article.gtin} already has a price {since} ({where(first)}): "
                "a price change needs its own valid_from"
            )
    return problems


class Catalogue:
    """Articles of one or more published versions (a store's first, then every store's), looked up by day."""

    def __init__(self, *layers: Iterable[Article]):
        self._layers: list[dict[str, list[Article]]] = []
        for articles in layers:
            index: dict[str, list[Article]] = {}
            for article in articles:
                index.setdefault(article.gtin, []).append(article)
            for rows in index.values():  # the latest price change first: it supersedes the earlier rows
                rows.sort(key=lambda a: a.valid_from or date.min, reverse=True)
            self._layers.append(index)

    def article(self, gtin: str, day: date) -> Article | None:
        """The article in force on `day` (the store's local day): of the rows in force that day, the one from
        the latest valid_from; the first layer (the store's own catalogue) that prices it wins."""
        for index in self._layers:
            for article in index.get(gtin, ()):
                if article.in_force(day):
                    return article
        return None

    def __len__(self) -> int:
        return len({gtin for index in self._layers for gtin in index})

    def gtins(self) -> Iterator[str]:
        seen: set[str] = set()
        for index in self._layers:
            for gtin in index:
                if gtin not in seen:
                    seen.add(gtin)
                    yield gtin


DEMO_CSV = "demo_catalogue.csv"


def demo_catalogue() -> dict[str, list[Article]]:
    """The shipped demo catalogue (programme/demo_catalogue.csv): a few hundred French supermarket articles
    across the four VAT rates, by scope."""
    from importlib.resources import files

    return parse_csv(files("programme").joinpath(DEMO_CSV).read_text(encoding="utf-8"))
