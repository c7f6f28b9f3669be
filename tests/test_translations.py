"""Every user-facing message has its French: extracted from the source as `pybabel extract -F babel.cfg` does,
then looked up in programme/locales/fr (no message missing, none empty, none fuzzy, placeholders kept)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[1]
CATALOG = ROOT / "programme" / "locales" / "fr" / "LC_MESSAGES" / "loyalty.po"
PLACEHOLDER = re.compile(r"\{[a-z_]*(?:![rsa])?\}|%\([a-z_]+\)s|%%")


def extracted() -> dict[str, list[str]]:
    """msgid (the singular for plurals) -> where the source uses it."""
    with open(ROOT / "babel.cfg", encoding="utf-8") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    found: dict[str, list[str]] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(str(ROOT), method_map, options_map):
        msgid = message[0] if isinstance(message, tuple) else message
        if msgid:
            found.setdefault(msgid, []).append(f"{filename}:{lineno}")
    return found


@pytest.fixture(scope="module")
def french():
    with open(CATALOG, "rb") as po:
        return read_po(po, locale="fr")


def test_the_source_has_messages_to_translate():
    messages = extracted()
    assert "Pay" in messages and "Loyalty desk" in messages and "POINTS STATEMENT" in messages


def test_every_message_of_the_source_has_its_french(french):
    missing = []
    for msgid, where in sorted(extracted().items()):
        entry = french.get(msgid)
        strings = () if entry is None else entry.string if isinstance(entry.string, tuple) else (entry.string,)
        if entry is None or not all(strings):
            missing.append(f"{msgid!r} ({where[0]})")
    assert not missing, (
        f"{len(missing)} message(s) without French in {CATALOG.relative_to(ROOT)}; run "
        "the pybabel commands of docs/i18n.md and translate them:\n" + "\n".join(missing)
    )


def test_the_french_catalog_has_no_fuzzy_entry_and_keeps_the_placeholders(french):
    fuzzy = [entry.id for entry in french if entry.id and entry.fuzzy]
    assert not fuzzy, f"fuzzy entries (check the French, then remove the fuzzy flag): {fuzzy}"
    changed = []
    for entry in french:
        if not entry.id:
            continue
        ids = entry.id if isinstance(entry.id, tuple) else (entry.id,)
        strings = entry.string if isinstance(entry.string, tuple) else (entry.string,)
        wanted = sorted(PLACEHOLDER.findall(ids[-1]))
        changed += [
            f"{ids[0]!r}: {string!r}" for string in strings if string and sorted(PLACEHOLDER.findall(string)) != wanted
        ]
    assert not changed, "French that loses or adds a placeholder:\n" + "\n".join(changed)


def test_the_french_catalog_passes_babel_s_checks(french):
    """What `pybabel compile` (and `make setup`) refuses: a French text whose printf-style placeholders do not
    match the English one's; an English message such as "10% of" reads to Babel as a placeholder (`% o`)."""
    errors = [f"{message.id!r}: {'; '.join(str(e) for e in found)}" for message, found in french.check()]
    assert not errors, "French that pybabel compile refuses:\n" + "\n".join(errors)
