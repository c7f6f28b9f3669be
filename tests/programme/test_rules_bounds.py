"""Every number in a rules file has a documented maximum, the file a size limit, deep nesting a clear error;
and whatever rules parse_rules accepts, any basket within the ticket bounds gets its points without an
exception and without a points entry past its bound."""

from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings, strategies as st

from loyalty.cli import main
from programme import rules as rules_module
from programme.engine import Context, explain, points_of
from programme.errors import RulesError
from programme.rules import MAX_RULES_BYTES, parse_rules
from programme.ticket import MAX_AMOUNT_CENTS as TICKET_MAX_LINE_CENTS
from programme.ticket import MAX_ENTRY_POINTS, Line
from programme.ticket import MAX_LINES as TICKET_MAX_LINES
from programme.ticket import MAX_QUANTITY as TICKET_MAX_QUANTITY
from programme.ticket import MAX_UNIT_CENTS as TICKET_MAX_UNIT_CENTS

HEAD = 'version = "v1"\neffective_from = 2026-01-01T00:00:00Z\n'
DEFAULT = Path(rules_module.__file__).with_name("default_rules.toml")
CARD = "2900000000018"

BOUNDS = [
    ("[base]\ncents_per_point = 9\n", "rules.toml, line 4: base.cents_per_point: expected int >= 10"),
    ("[base]\ncents_per_point = 100001\n", "rules.toml, line 4: base.cents_per_point: expected int <= 100000"),
    (
        '[[multipliers]]\ncategory = "dairy"\npercent = 10001\n',
        "rules.toml, line 5: multipliers[0].percent: expected int <= 10000",
    ),
    (
        '[[multipliers]]\ncategory = "dairy"\npercent = 1101\n',
        "rules.toml, line 5: multipliers[0].percent: expected at most 1100 with [base] cents_per_point = 100: "
        "one rule gives at most 10 points per euro",
    ),
    (
        '[base]\ncents_per_point = 10\n[[tiers]]\nname = "gold"\nmin_spend_cents = 1\npercent = 201\n',
        "rules.toml, line 8: tiers[0].percent: expected at most 200 with [base] cents_per_point = 10: "
        "one rule gives at most 10 points per euro",
    ),
    (
        '[[promotions]]\nid = "a"\npercent = 1101\n',
        "rules.toml, line 5: promotions[0].percent: expected at most 1100 with [base] cents_per_point = 100: "
        "one rule gives at most 10 points per euro",
    ),
    (
        '[[offers]]\nid = "a"\nsegment = "s"\npercent = 5000\n',
        "rules.toml, line 6: offers[0].percent: expected at most 1100 with [base] cents_per_point = 100: "
        "one rule gives at most 10 points per euro",
    ),
    (
        '[[bonuses]]\narticle = "3017620422003"\npoints = 101\n',
        "rules.toml, line 5: bonuses[0].points: expected int <= 100",
    ),
    (
        '[[promotions]]\nid = "a"\npoints_per_unit = 101\n',
        "rules.toml, line 5: promotions[0].points_per_unit: expected int <= 100",
    ),
    (
        '[[promotions]]\nid = "a"\nbasket_min_cents = 100\nbasket_points = 1000001\n',
        "rules.toml, line 6: promotions[0].basket_points: expected int <= 1000000",
    ),
    (
        '[[promotions]]\nid = "a"\nbasket_min_cents = 100000001\nbasket_points = 10\n',
        "rules.toml, line 5: promotions[0].basket_min_cents: expected int <= 100000000",
    ),
    (
        '[[tiers]]\nname = "gold"\nmin_spend_cents = 10000000001\npercent = 110\n',
        "rules.toml, line 5: tiers[0].min_spend_cents: expected int <= 10000000000",
    ),
    (
        "[cheques]\nthreshold_points = 1000001\ncheque_cents = 500\n",
        "rules.toml, line 4: cheques.threshold_points: expected int <= 1000000",
    ),
    (
        "[cheques]\nthreshold_points = 500\ncheque_cents = 100001\n",
        "rules.toml, line 5: cheques.cheque_cents: expected int <= 100000",
    ),
    ("[expiry]\nyears_after = 11\n", "rules.toml, line 4: expiry.years_after: expected int <= 10"),
    ("[redemption]\ncents_per_point = 101\n", "rules.toml, line 4: redemption.cents_per_point: expected int <= 100"),
    ("[redemption]\nmin_points = 1000001\n", "rules.toml, line 4: redemption.min_points: expected int <= 1000000"),
    (
        "[redemption]\noffline_daily_cap_points = 1000001\n",
        "rules.toml, line 4: redemption.offline_daily_cap_points: expected int <= 1000000",
    ),
    (
        "".join(f'[[promotions]]\nid = "p{n}"\npercent = 200\n' for n in range(1001)),
        "rules.toml: promotions: expected at most 1000 entries",
    ),
]


@pytest.mark.parametrize("body,message", BOUNDS, ids=[m.split(": ", 1)[1][:50] for _, m in BOUNDS])
def test_every_number_has_a_maximum_named_in_the_error(body, message):
    with pytest.raises(RulesError) as refused:
        parse_rules(HEAD + body, "rules.toml")
    assert str(refused.value) == message


def test_the_maxima_themselves_are_accepted():
    parse_rules(
        HEAD + '[base]\ncents_per_point = 10\n[[multipliers]]\ncategory = "dairy"\npercent = 200\n'
        '[[bonuses]]\narticle = "3017620422003"\npoints = 100\n[expiry]\nyears_after = 10\n',
        "rules.toml",
    )


def test_a_rules_text_past_the_size_limit_is_refused():
    text = HEAD + "# " + "x" * MAX_RULES_BYTES + "\n"
    with pytest.raises(RulesError) as refused:
        parse_rules(text, "rules.toml")
    assert str(refused.value) == (
        f"rules.toml is {len(text.encode()):,} bytes, more than the 1,048,576 a rules file "
        "may have: keep a rules file under 1 MiB"
    )


@pytest.mark.parametrize("nested", ["x = " + "[" * 5000 + "]" * 5000, "x = " + "{a = " * 5000 + "1" + "}" * 5000])
def test_deep_nesting_is_a_clear_error_not_a_traceback(nested):
    with pytest.raises(RulesError) as refused:
        parse_rules(HEAD + nested + "\n", "rules.toml")
    assert str(refused.value) == "rules.toml: not valid TOML: nested too deeply (arrays or tables within each other)"


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_validate_refuses_an_oversized_file_before_reading_it(tmp_path):
    big = tmp_path / "big.toml"
    big.write_text(DEFAULT.read_text() + "# padding\n" * 220_000)  # about 2 MB, valid TOML
    result = invoke("rules", "validate", big)
    assert result.exit_code == 1
    assert result.output == (
        f"Error: {big} is {big.stat().st_size:,} bytes, more than the 1,048,576 a rules file "
        "may have: keep a rules file under 1 MiB\n"
    )


def test_validate_refuses_what_is_not_a_regular_file():
    result = invoke("rules", "validate", "/dev/zero")
    assert result.exit_code == 1
    assert result.output == "Error: /dev/zero is not a regular file: give a rules file (TOML, see docs/rules.md)\n"


def test_explain_refuses_a_ticket_that_is_not_a_regular_file():
    result = invoke("rules", "explain", "--rules", DEFAULT, "--ticket", "/dev/zero")
    assert result.exit_code == 1
    assert result.output == (
        "Error: /dev/zero is not a regular file: give a ticket as JSON (as `loyalty till sell` prints it)\n"
    )


# -- property: what parse_rules accepts never crashes the till ------------------------------------------------
def toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value + '"'
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return str(value)


def toml_text(data: dict) -> str:
    """A small TOML writer: top-level values, tables of values, arrays of tables."""
    out = [
        f"{k} = {toml_value(v)}"
        for k, v in data.items()
        if not isinstance(v, (dict, list)) or (isinstance(v, list) and not (v and isinstance(v[0], dict)))
    ]
    for key, value in data.items():
        if isinstance(value, dict):
            out += [f"[{key}]", *(f"{k} = {toml_value(v)}" for k, v in value.items())]
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            for item in value:
                out += [f"[[{key}]]", *(f"{k} = {toml_value(v)}" for k, v in item.items())]
    return "\n".join(out) + "\n"


CATEGORIES = ["dairy", "fresh", "tobacco", "hygiene"]
ARTICLES = ["3017620422003", "3000000000017", "3250390000011", "12345670"]
DAY = date(2026, 11, 28)
# Numbers around every bound: small, ordinary, at the bound, just past it, far past it.
near = st.one_of(
    st.integers(min_value=-2, max_value=3),
    st.integers(min_value=0, max_value=2**40),
    st.sampled_from(
        [
            9,
            10,
            11,
            99,
            100,
            101,
            200,
            1100,
            1101,
            10_000,
            10_001,
            100_000,
            100_001,
            1_000_000,
            1_000_001,
            100_000_000,
            10_000_000_000,
            2**63,
            10**30,
        ]
    ),
)


def num(low: int, high: int):
    """Mostly a valid number, often one at, near or past a bound."""
    return st.integers(0, 5).flatmap(
        lambda pick: near if pick == 0 else st.sampled_from([low, high]) if pick == 1 else st.integers(low, high)
    )


@st.composite
def promotion(draw, n: int, offer: bool) -> dict:
    promo = {"id": f"{'o' if offer else 'p'}{n}"}
    if draw(st.booleans()):
        promo["categories"] = draw(st.lists(st.sampled_from(CATEGORIES), max_size=2))
    if draw(st.booleans()):
        promo["articles"] = draw(st.lists(st.sampled_from(ARTICLES), max_size=2))
    effect = draw(st.sampled_from(["percent", "points_per_unit", "basket_points"]))
    if effect == "basket_points":
        promo["basket_min_cents"] = draw(num(0, 100_000_000))
    promo[effect] = draw(
        {"percent": num(100, 1100), "points_per_unit": num(1, 100), "basket_points": num(1, 1_000_000)}[effect]
    )
    if offer:
        promo["cards"] = [CARD]
    return promo


@st.composite
def rules_files(draw) -> str:
    data: dict = {"version": "prop", "effective_from": datetime(2026, 1, 1, tzinfo=timezone.utc)}
    data["base"] = {"cents_per_point": draw(num(10, 1000))}
    data["exclusions"] = {"categories": ["tobacco"]}
    data["multipliers"] = [
        {"category": c, "percent": draw(num(100, 1100))} for c in draw(st.sets(st.sampled_from(CATEGORIES)))
    ]
    data["bonuses"] = [{"article": a, "points": draw(num(1, 100))} for a in draw(st.sets(st.sampled_from(ARTICLES)))]
    data["promotions"] = [draw(promotion(n, False)) for n in range(draw(st.integers(0, 3)))]
    data["offers"] = [draw(promotion(n, True)) for n in range(draw(st.integers(0, 2)))]
    spends = sorted(draw(st.sets(num(0, 10_000_000_000), max_size=2)))
    data["tiers"] = [
        {"name": f"t{n}", "min_spend_cents": s, "percent": draw(num(100, 1100))} for n, s in enumerate(spends)
    ]
    data["expiry"] = {"years_after": draw(num(1, 10))}
    return toml_text({k: v for k, v in data.items() if v != []})


@st.composite
def baskets(draw) -> list[Line]:
    lines = []
    for _ in range(draw(st.integers(1, 12))):
        quantity = draw(
            st.one_of(
                st.integers(1, TICKET_MAX_QUANTITY), st.just(TICKET_MAX_QUANTITY), st.integers(-TICKET_MAX_QUANTITY, -1)
            )
        )
        unit = draw(st.one_of(st.integers(0, TICKET_MAX_UNIT_CENTS), st.just(TICKET_MAX_UNIT_CENTS)))
        if abs(quantity * unit) > TICKET_MAX_LINE_CENTS:
            unit = TICKET_MAX_LINE_CENTS // abs(quantity)
        discount = draw(st.integers(0, max(quantity * unit, 0)))
        lines.append(
            Line(
                gtin=draw(st.sampled_from(ARTICLES)),
                label="x",
                category=draw(st.sampled_from(CATEGORIES)),
                quantity=quantity,
                unit_cents=unit,
                discount_cents=discount,
                total_cents=quantity * unit - discount,
            )
        )
    return lines


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(
    text=rules_files(),
    lines=baskets(),
    tier=st.sampled_from([None, "t0", "t1"]),
    at=st.integers(0, 6).map(lambda d: datetime(2026, 11, 28, 12, tzinfo=timezone.utc) - timedelta(days=d)),
)
def test_whatever_rules_are_accepted_any_basket_gets_its_points(text, lines, tier, at):
    try:
        rules = parse_rules(text, "rules.toml")
    except RulesError:
        return  # refused with a message: nothing reaches the till
    ctx = Context(card=CARD, at=at, store="S001", tier=tier)
    entries = points_of(rules, lines, ctx)
    assert all(0 <= e.points <= MAX_ENTRY_POINTS for e in entries)
    assert explain(rules, lines, ctx).points == sum(e.points for e in entries)
    assert len(lines) <= TICKET_MAX_LINES


def test_a_basket_at_every_bound_under_the_most_generous_rules_stays_within_an_entry():
    rules = parse_rules(
        HEAD + "[base]\ncents_per_point = 10\n"
        '[[multipliers]]\ncategory = "dairy"\npercent = 200\n'
        '[[bonuses]]\narticle = "3017620422003"\npoints = 100\n'
        '[[promotions]]\nid = "a"\npoints_per_unit = 100\n'
        '[[promotions]]\nid = "b"\nbasket_min_cents = 1\nbasket_points = 1000000\n'
        '[[tiers]]\nname = "t"\nmin_spend_cents = 0\npercent = 200\n',
        "rules.toml",
    )
    unit = TICKET_MAX_LINE_CENTS // TICKET_MAX_QUANTITY
    lines = [
        Line(
            gtin="3017620422003",
            label="x",
            category="dairy",
            quantity=TICKET_MAX_QUANTITY,
            unit_cents=unit,
            total_cents=TICKET_MAX_QUANTITY * unit,
        )
    ] * TICKET_MAX_LINES
    entries = points_of(rules, lines, Context(card=CARD, at=datetime(2026, 11, 28, tzinfo=timezone.utc), tier="t"))
    assert max(e.points for e in entries) <= MAX_ENTRY_POINTS
