"""French first: money, numbers, percentages and dates as French people read them; English on request."""

from datetime import date, datetime, timezone

import pytest

from programme import i18n


def test_money_reads_french_by_default_with_no_break_spaces(monkeypatch):
    monkeypatch.delenv("LOYALTY_LANG", raising=False)
    assert i18n.format_money(123456) == "1\u202f234,56\u00a0€"
    assert i18n.format_money(-5) == "-0,05\u00a0€"


def test_money_on_paper_has_plain_spaces():
    assert i18n.format_money(123456, lang="fr", plain=True) == "1 234,56 €"


def test_english_on_request(monkeypatch):
    monkeypatch.setenv("LOYALTY_LANG", "en")
    assert i18n.language() == "en"
    assert i18n.format_money(123456) == "€1,234.56"
    assert i18n.format_percent(0.642) == "64.2%"
    with i18n.use_language("fr-FR"):
        assert i18n.format_percent(0.642, plain=True) == "64,2 %"
    assert i18n.language() == "en"


@pytest.mark.parametrize("tag, expected", [("fr", "fr"), ("en-GB", "en"), ("EN_us", "en"), ("de", "fr"), (None, "fr")])
def test_unknown_languages_fall_back_to_french(tag, expected):
    assert i18n.language_from(tag) == expected


def test_stored_utc_times_are_shown_in_paris_time():
    assert i18n.format_datetime(datetime(2026, 12, 5, 13, 32, tzinfo=timezone.utc)) == "05/12/2026 14:32"
    # 23:30 UTC on 5 December is already the 6th in Paris; summer time is UTC+2
    assert i18n.format_date(datetime(2026, 12, 5, 23, 30, tzinfo=timezone.utc)) == "06/12/2026"
    assert i18n.format_datetime(datetime(2026, 7, 14, 8, 0, 5), seconds=True) == "14/07/2026 10:00:05"
    assert i18n.format_date(date(2026, 12, 5), lang="en") == "05/12/2026"


def test_numbers_group_thousands():
    assert i18n.format_number(12345, plain=True) == "12 345"
    assert i18n.format_number(12345, lang="en") == "12,345"
