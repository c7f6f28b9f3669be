"""The pages' language: Flask-Babel on programme/locales' catalog, French first, chosen per user.

Each request picks its language once: the API's JSON stays English; a logged-in user's choice (stored with the
user, set by the selector in the page header); the choice made before logging in (kept in the session); the
browser's Accept-Language; then LOYALTY_LANG, else French. The request then runs inside
programme.i18n.use_language(), so the views' `_()`, the desk's errors and Jinja's `_()` agree, and money,
dates and percentages reach the templates through programme.i18n's formats as filters.
"""

from __future__ import annotations

from datetime import date, datetime

from flask import Blueprint, Flask, g, redirect, request, session, url_for
from flask_babel import Babel
from flask_login import current_user

from programme import i18n
from programme.rule_names import rule_text
from server.ingest import reasons

bp = Blueprint("languages", __name__)
NAMES = {"fr": "Français", "en": "English"}  # each language named in itself, as selectors do
API_PREFIX = "/api/"
# Stored words the pages show as they are: ledger kinds, card statuses and replacement reasons, till health.
WORDS = frozenset(
    (
        i18n.N_("earn"),
        i18n.N_("redeem"),
        i18n.N_("reverse"),
        i18n.N_("adjust"),
        i18n.N_("expire"),
        i18n.N_("transfer"),
        i18n.N_("active"),
        i18n.N_("blocked"),
        i18n.N_("lost"),
        i18n.N_("stolen"),
        i18n.N_("damaged"),
        i18n.N_("red"),
        i18n.N_("amber"),
        i18n.N_("green"),
        i18n.N_("cash"),
        i18n.N_("bank_card"),
        i18n.N_("cheque"),
        i18n.N_("points"),
        i18n.N_("email"),
        i18n.N_("sms"),
        i18n.N_("profiling"),
    )
)


def word(value) -> str:
    """One of WORDS in the page's language; anything else as stored."""
    return i18n._(value) if value in WORDS else ("" if value is None else str(value))


def chosen_language() -> str:
    """The language of this request's page (see the module's docstring for the order)."""
    if request.path.startswith(API_PREFIX):
        return "en"
    mine = getattr(current_user, "language", None) if current_user.is_authenticated else None
    if mine in i18n.LANGUAGES:
        return mine
    if session.get("language") in i18n.LANGUAGES:
        return session["language"]
    return request.accept_languages.best_match(i18n.LANGUAGES) or i18n.language()


def page_language() -> str:
    """The request's language (Flask-Babel's locale selector and the templates' `<html lang>`)."""
    if "language" not in g:
        g.language = chosen_language()
    return g.language


def _moment(value) -> datetime | None:
    if isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None


def money(cents) -> str:
    return "" if cents is None else i18n.format_money(int(cents))


def local_datetime(value) -> str:
    """A stored UTC time (ISO text or datetime) in Paris time: `05/12/2026 14:32` (empty stays empty)."""
    if not value:
        return ""
    moment = _moment(value)
    return i18n.format_datetime(moment) if moment else str(value)


def local_date(value) -> str:
    """A day (`2026-12-05`, a date, or a stored UTC time) as people read it: `05/12/2026`."""
    if not value:
        return ""
    if isinstance(value, (date, datetime)):
        return i18n.format_date(value)
    text = str(value)
    if len(text) == 10:
        try:
            return i18n.format_date(date.fromisoformat(text))
        except ValueError:
            return text
    moment = _moment(text)
    return i18n.format_date(moment) if moment else text


def init_languages(app: Flask) -> None:
    app.config.setdefault("BABEL_DEFAULT_LOCALE", i18n.DEFAULT_LANGUAGE)
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", str(i18n.LOCAL_TIME))
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(i18n.LOCALES_DIR))
    app.config.setdefault("BABEL_DOMAIN", i18n.DOMAIN)
    Babel(app, locale_selector=page_language)

    @app.before_request
    def speak():
        scope = i18n.use_language(page_language())
        scope.__enter__()
        g.language_scope = scope

    @app.teardown_request
    def done(exc):
        scope = g.pop("language_scope", None)
        if scope is not None:
            scope.__exit__(None, None, None)

    app.jinja_env.filters.update(
        word=word,
        rule=rule_text,  # a ledger entry's rule name in the page's language
        reason=reasons.shown,  # head office's reasons (points check, offer types stopped): text|reason(parts)
        euros=money,
        money=money,
        utc=local_datetime,
        datetime=local_datetime,
        date=local_date,
        percent=lambda ratio, digits=1: i18n.format_percent(ratio or 0, digits=digits),
        number=i18n.format_number,
    )
    app.jinja_env.globals.update(page_language=page_language, language_names=NAMES)
    app.register_blueprint(bp)


@bp.route("/language", methods=["POST"])
def choose():
    """The selector in the header: kept with the user when logged in, in the session otherwise."""
    from server.desk import accounts
    from server.web.context import db
    from .auth import local_target

    chosen = request.form.get("language", "")
    language = chosen if chosen in i18n.LANGUAGES else None
    if current_user.is_authenticated:
        accounts.set_language(db(), current_user.id, language)
    if language:
        session["language"] = language
    else:
        session.pop("language", None)
    return redirect(local_target(request.form.get("next", "")) or url_for("customers.index"))


choose.roles = ("any",)
