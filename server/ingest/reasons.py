"""Head office's reasons as a code and its parameters: the points check's discrepancies (rules_check.py,
offers_check.py) and the next best offer types stopped (server/analytics/offer_results.py).

A reason is a list of parts, each `{"code": ..., **parameters}`, stored as JSON beside its English text
(`discrepancies.reason_json`, `nbo_offer_types.stopped_json`). The English text (`english`) is what operators'
logs, the JSON API and older code read, word for word as before; the pages show `shown`, the same parts through
the message catalog in the reader's language. A row without its parts (written before them, or by a writer that
keeps text only) shows its stored text; one whose text another writer extended after the parts (returns_check
appends its own reasons) shows the parts translated, then the rest as stored.

Parameters are formatted by their names: `rule` is a ledger rule name (programme.rule_names), `day`, `starts`,
`ends` ISO days, `*_percent` whole percentages, `*_cents` euros, `*_signed_cents` signed euros (`_bare`: no
EUR in English); an int is a number, a part a part, a list of parts a list ("nothing" when empty); anything
else is shown as it is.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from programme.i18n import N_, _, format_date, format_money, format_number, format_percent
from programme.rule_names import rule_text

Part = dict[str, Any]

TEMPLATES = {
    # the points check (server/ingest/rules_check.py)
    "rules_past_bound": N_("rules version {version} is past a bound of these rules: {error}"),
    "rules_unknown": N_(
        "rules version {version} is not known to the server: record it with `loyalty rules publish FILE --db`"
    ),
    "not_recomputed": N_("the server could not recompute the points: {error}"),
    "points_differ": N_("till gave {till} points, rules {version} give {ours}"),
    "breakdown_differs": N_("same total ({till}) but a different breakdown"),
    "breakdown": N_("{head}: till has {extra}; rules give {missing}"),
    "basket_item": N_("basket {rule} {points}"),
    "line_item": N_("line {line} {rule} {points}"),
    "refund_unheld": N_(
        "return gives back {points} points of {original}'s points tender, which head office does not hold "
        "(yet): none credited"
    ),
    "refund_cut": N_(
        "return gives back {points} points of {original}'s points tender; it took {taken} and {before} were "
        "given back before: {allowed} credited"
    ),
    # the offers a till claimed (server/ingest/offers_check.py)
    "offer_refused": N_("{rule} refused: {why}"),
    "campaign_unknown": N_("campaign {campaign} is not known to the server"),
    "not_a_target": N_("card {card} is not a target of campaign {campaign}"),
    "outside_dates": N_("the ticket is of {day}, campaign {campaign} runs from {starts} to {ends}"),
    "other_store": N_("store {store} is not one of campaign {campaign}'s stores ({stores})"),
    "cheque_not_points": N_("campaign {campaign} gives a loyalty cheque, not points"),
    "used_before": N_("card {card} already used this offer on ticket {ticket}"),
    "needs_earning_spend": N_("campaign {campaign} needs spend that earns points: the ticket has none"),
    "needs_category": N_(
        "campaign {campaign} is on {category}: the ticket has no line of {category} that earns points"
    ),
    "needs_basket": N_(
        "campaign {campaign} needs a basket of {least_cents} that earns points: the ticket's is {found_cents}"
    ),
    "needs_category_spend": N_(
        "campaign {campaign} needs {least_cents} of {category} that earns points: the ticket has {found_cents}"
    ),
    # next best offer types stopped (server/analytics/offer_results.py)
    "offer_type_harmful": N_(
        "stopped on {day}: after {days} days its customers brought {uplift_signed_cents} net margin each "
        "against the holdout, {level_percent} interval {low_signed_cents_bare} to {high_signed_cents} "
        "({targets} targets, {holdouts} held out): the offer costs more than it brings"
    ),
}
DAYS = frozenset({"day", "starts", "ends"})


def part(code: str, **params: Any) -> Part:
    """One part of a reason (its code must be one of TEMPLATES)."""
    if code not in TEMPLATES:
        raise KeyError(f"reason code {code!r} is not one of server.ingest.reasons.TEMPLATES")
    return {"code": code, **params}


def _value(name: str, value: Any, local: bool) -> str:
    if isinstance(value, dict):
        return _render(value, local)
    if isinstance(value, list):
        return ", ".join(_render(v, local) for v in value) or (_("nothing") if local else "nothing")
    if name.endswith(("_signed_cents", "_signed_cents_bare")):
        if not local:  # bare: the English text names EUR once, after the range that ends with it
            return f"{value / 100:+.2f}" + ("" if name.endswith("_bare") else " EUR")
        return ("+" if value >= 0 else "-") + format_money(abs(round(value)))
    if name.endswith("_percent"):
        return format_percent(value / 100, digits=0) if local else f"{value}%"
    if name.endswith("_cents"):
        return format_money(value) if local else f"{value // 100}.{value % 100:02d} EUR"
    if not local:
        return str(value)
    if name == "rule":
        return rule_text(value)
    if name in DAYS:
        return format_date(date.fromisoformat(value))
    if isinstance(value, int) and not isinstance(value, bool):
        return format_number(value)
    return str(value)


def _render(p: Part, local: bool) -> str:
    template = TEMPLATES[p["code"]]
    values = {name: _value(name, value, local) for name, value in p.items() if name != "code"}
    return (_(template) if local else template).format(**values)


def english(parts: list[Part]) -> str:
    """The reason's English text, as stored and logged."""
    return "; ".join(_render(p, False) for p in parts)


def translated(parts: list[Part]) -> str:
    """The reason in the reader's language."""
    shown = [_render(p, True) for p in parts]
    text = shown[0] if shown else ""
    for more in shown[1:]:
        text = _("{reason}; {more}").format(reason=text, more=more)
    return text


def to_json(parts: list[Part] | None) -> str | None:
    return None if parts is None else json.dumps(parts, separators=(",", ":"), sort_keys=True)


def shown(stored: str | None, parts_json: str | None) -> str | None:
    """What a page shows of a stored reason: its parts in the reader's language when it has them (see the
    module's docstring), else its text."""
    if not parts_json or stored is None:
        return stored
    try:
        parts = json.loads(parts_json)
        text = english(parts)
        if not stored.startswith(text):
            return stored  # rewritten since by a writer that keeps text only
        return translated(parts) + stored[len(text) :]
    except (ValueError, KeyError, TypeError, AttributeError):
        return stored  # parts this version does not know: the text says it
