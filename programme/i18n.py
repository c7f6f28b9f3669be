"""What people read, in their language: French first, English available.

Messages go through the standard library's gettext (one catalog, domain `loyalty`, in programme/locales;
the `.po` files are in the repository and compiled to `.mo` by `make setup` with Babel's `pybabel compile`).
Numbers, money, percentages and dates go through Babel's CLDR formats. Inside, money stays integer cents and
times stay UTC: only what is shown passes through here, in the local time of the store (Europe/Paris).

The language is French unless `LOYALTY_LANG` says otherwise; a web request or a test can switch it for the
code it runs with `use_language()`. Operators' CLI output and JSON stay English and machine-readable: they do
not call this module.
"""

from __future__ import annotations

import gettext as _gettext
import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime, timezone
from decimal import Decimal
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.dates import format_date as _babel_date
from babel.dates import format_datetime as _babel_datetime
from babel.numbers import format_currency, format_decimal
from babel.numbers import format_percent as _babel_percent

LANGUAGES = ("fr", "en")
DEFAULT_LANGUAGE = "fr"
DOMAIN = "loyalty"
LOCALES_DIR = Path(__file__).with_name("locales")
LOCAL_TIME = ZoneInfo("Europe/Paris")
_BABEL_LOCALE = {"fr": "fr_FR", "en": "en_GB"}
# CLDR separates French thousands and the euro sign with U+202F / U+00A0; receipt printers' code pages lack
# U+202F, so `plain=True` gives ASCII spaces (screens keep the no-break ones so that `1 234,56 €` never wraps).
_NO_BREAK_SPACES = str.maketrans({"\u202f": " ", "\u00a0": " "})

_language: ContextVar[str | None] = ContextVar("loyalty_language", default=None)


def language_from(value: str | None) -> str:
    """The supported language a setting or an `Accept-Language` tag names (`fr-FR` -> `fr`); French otherwise."""
    tag = (value or "").strip().lower().replace("_", "-").split("-")[0]
    return tag if tag in LANGUAGES else DEFAULT_LANGUAGE


def language() -> str:
    """The language of what is being shown now: `use_language()`'s, else `LOYALTY_LANG`, else French."""
    chosen = _language.get()
    return chosen if chosen is not None else language_from(os.environ.get("LOYALTY_LANG"))


@contextmanager
def use_language(lang: str) -> Iterator[str]:
    """Show everything inside the block in `lang` (a web request, a receipt for an English-speaking store)."""
    token = _language.set(language_from(lang))
    try:
        yield _language.get() or DEFAULT_LANGUAGE
    finally:
        _language.reset(token)


@cache
def translations(lang: str) -> _gettext.NullTranslations:
    """The compiled catalog of `lang`; untranslated (the English source text) when there is none."""
    return _gettext.translation(DOMAIN, LOCALES_DIR, languages=[lang], fallback=True)


def _(message: str) -> str:
    """`message` (English source text) in the current language."""
    return translations(language()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The singular or plural form for `n`, in the current language."""
    return translations(language()).ngettext(singular, plural, n)


def N_(message: str) -> str:
    """Mark a message for extraction where it is defined; translate it with `_()` where it is shown."""
    return message


def _locale(lang: str | None) -> str:
    return _BABEL_LOCALE[language_from(lang) if lang else language()]


def format_money(cents: int, *, lang: str | None = None, plain: bool = False) -> str:
    """Integer cents as people read euros: `1 234,56 €` in French, `€1,234.56` in English."""
    text = format_currency(Decimal(int(cents)).scaleb(-2), "EUR", locale=_locale(lang))
    return text.translate(_NO_BREAK_SPACES) if plain else text


def format_number(value: int | float | Decimal, *, lang: str | None = None, plain: bool = False) -> str:
    """A count or a quantity with the language's separators: `12 345` in French, `12,345` in English."""
    text = format_decimal(value, locale=_locale(lang))
    return text.translate(_NO_BREAK_SPACES) if plain else text


def format_percent(ratio: float, *, digits: int = 1, lang: str | None = None, plain: bool = False) -> str:
    """A ratio (0.642) as a percentage: `64,2 %` in French, `64.2%` in English."""
    pattern = "#,##0." + "0" * digits + " %" if digits else "#,##0 %"
    if (lang and language_from(lang) == "en") or (not lang and language() == "en"):
        pattern = pattern.replace(" %", "%")
    text = _babel_percent(ratio, format=pattern, locale=_locale(lang))
    return text.translate(_NO_BREAK_SPACES) if plain else text


def local_time(moment: datetime) -> datetime:
    """A stored UTC time in the store's local time (naive datetimes are taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(LOCAL_TIME)


def format_date(day: date | datetime, *, lang: str | None = None) -> str:
    """A day as people read it: `05/12/2026` in French, `05/12/2026` in British English too."""
    if isinstance(day, datetime):
        day = local_time(day).date()
    return _babel_date(day, format="dd/MM/yyyy", locale=_locale(lang))


def format_datetime(moment: datetime, *, lang: str | None = None, seconds: bool = False) -> str:
    """A UTC time shown in local time: `05/12/2026 14:32` (with `:05` seconds when asked)."""
    pattern = "dd/MM/yyyy HH:mm:ss" if seconds else "dd/MM/yyyy HH:mm"
    return _babel_datetime(local_time(moment), format=pattern, tzinfo=LOCAL_TIME, locale=_locale(lang))
