"""docs/rules.md cannot rot: its rules parse and every example ticket gives exactly the table shown."""

import re
import tomllib
from pathlib import Path

import pytest

from programme.explain import explain_example, render
from programme.rules import parse_rules

DOC = Path(__file__).resolve().parents[2] / "docs" / "rules.md"
FENCE = re.compile(r"^```(\w+) (\w+)\n(.*?)^```", re.S | re.M)


def blocks(text: str) -> list[tuple[str, str]]:
    return [(kind, body) for _, kind, body in FENCE.findall(text)]


def doc_rules():
    (rules_text,) = [body for kind, body in blocks(DOC.read_text()) if kind == "rules"]
    return parse_rules(rules_text, "docs/rules.md")


def examples() -> list[tuple[str, str]]:
    found, ticket = [], None
    for kind, body in blocks(DOC.read_text()):
        if kind == "ticket":
            ticket = body
        elif kind == "explanation":
            assert ticket is not None, "an explanation block without its ticket block before it"
            found.append((ticket, body.rstrip("\n")))
            ticket = None
    return found


def test_the_doc_has_rules_and_examples():
    rules = doc_rules()
    assert rules.promotions and rules.offers and rules.tiers and rules.cheques
    assert len(examples()) >= 5


@pytest.mark.parametrize("ticket,expected", examples(), ids=lambda v: v.splitlines()[0][:30])
def test_each_example_gives_the_table_shown(ticket, expected):
    explanation, lines = explain_example(doc_rules(), tomllib.loads(ticket))
    assert render(explanation, lines) == expected
    assert explanation.points == sum(e.points for e in explanation.entries())
