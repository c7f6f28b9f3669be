"""server/ingest/reasons.py: a reason's parts give its English text word for word and its text in the reader's
language; parts it cannot read fall back to the stored text."""

import pytest

from programme.i18n import use_language
from server.ingest import reasons
from server.ingest.reasons import part

REFUND = part("refund_cut", points=40, original="S001-T01-00000007", taken=30, before=0, allowed=30)
DATES = part("outside_dates", day="2026-12-05", campaign=3, starts="2026-11-01", ends="2026-11-30")


def test_the_english_text_is_the_one_operators_read():
    assert reasons.english([DATES, REFUND]) == (
        "the ticket is of 2026-12-05, campaign 3 runs from 2026-11-01 to 2026-11-30; return gives back 40 points of "
        "S001-T01-00000007's points tender; it took 30 and 0 were given back before: 30 credited"
    )


def test_the_page_shows_it_in_french_with_french_dates():
    stored = reasons.english([DATES, REFUND])
    with use_language("fr"):
        assert reasons.shown(stored, reasons.to_json([DATES, REFUND])) == (
            "le ticket est du 05/12/2026, la campagne 3 court du 01/11/2026 au 30/11/2026 ; le retour rend 40 points "
            "payés en points sur S001-T01-00000007 ; ce ticket en a pris 30 et 0 ont déjà été rendus : 30 crédités"
        )


@pytest.mark.parametrize("parts_json", [None, "", "not json", '[{"code": "from_a_later_version"}]', '[{"x": 1}]'])
def test_parts_it_cannot_read_show_the_stored_text(parts_json):
    with use_language("fr"):
        assert reasons.shown("as stored", parts_json) == "as stored"


def test_an_unknown_code_is_refused_where_it_is_written():
    with pytest.raises(KeyError):
        part("no_such_reason")
