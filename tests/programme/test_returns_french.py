"""What a French till's screen shows when the cashier picks lines a return cannot take (programme/returns.py's
errors, shown on the till as they are raised), and the same in English."""

from __future__ import annotations

import pytest

from programme.errors import ReturnError
from programme.returns import reverse_lines
from programme.ticket import make_line

from .test_returns_redemption import RULES, sale


def refusals() -> list[str]:
    ticket = sale([make_line("3270190000012", 3, 333, "drinks")])
    said = []
    for picks, already in [({}, {}), ({0: 0}, {}), ({0: 2}, {0: 2}), ({3: 1}, {})]:
        with pytest.raises(ReturnError) as err:
            reverse_lines(RULES, ticket, picks, already)
        said.append(str(err.value))
    return said


def test_a_return_refused_reads_french():
    assert refusals() == [
        "choisissez au moins une ligne de S001-T01-00000001 à retourner",
        "choisissez au moins une ligne de S001-T01-00000001 à retourner",
        "ligne 1 de S001-T01-00000001 : reste 1 à retourner, 2 demandé(s)",
        "le ticket S001-T01-00000001 n'a pas de ligne 4 : il a 1 ligne",
    ]


def test_a_return_refused_reads_english(english):
    assert refusals() == [
        "pick at least one line of S001-T01-00000001 to return",
        "pick at least one line of S001-T01-00000001 to return",
        "line 1 of S001-T01-00000001: 1 left to return, 2 asked",
        "ticket S001-T01-00000001 has no line 4: it has 1 line",
    ]
