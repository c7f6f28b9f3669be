"""The user docs in English (docs/X.md) and French (docs/fr/X.md) link to each other, every picture they show
exists, and docs/screenshots.py still takes the till's screen."""

import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
USER_PAGES = ("till", "desk", "catalogue")
IMAGE = re.compile(r"!\[[^\]]*\]\(([^)]+)\)")


@pytest.mark.parametrize("page", USER_PAGES)
def test_each_user_page_exists_in_english_and_french_and_they_link_both_ways(page):
    english, french = DOCS / f"{page}.md", DOCS / "fr" / f"{page}.md"
    assert f"[Français](fr/{page}.md)" in english.read_text()
    assert f"[English](../{page}.md)" in french.read_text()


@pytest.mark.parametrize("doc", [f"{p}.md" for p in USER_PAGES] + [f"fr/{p}.md" for p in USER_PAGES])
def test_every_picture_a_user_page_shows_exists_in_its_language(doc):
    path = DOCS / doc
    pictures = IMAGE.findall(path.read_text())
    for picture in pictures:
        assert (path.parent / picture).resolve().is_file(), f"{doc} shows {picture}, which is missing"
        language = "fr" if doc.startswith("fr/") else "en"
        assert f"screenshots/{language}/" in picture, f"{doc} shows {picture}, not a {language} screenshot"


def screenshots_module():
    spec = importlib.util.spec_from_file_location("docs_screenshots", DOCS / "screenshots.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    "lang, words", [("fr", ["Caisse fidélité", "magasin S001", "SIRET 732 829 320 00074"]), ("en", ["store S001"])]
)
def test_the_screenshot_script_takes_the_till_in_each_language(tmp_path, monkeypatch, lang, words):
    shots = screenshots_module()
    monkeypatch.setattr(shots, "OUT", tmp_path)
    monkeypatch.setenv("LOYALTY_LANG", lang)
    (tmp_path / lang).mkdir()
    shots.till(lang)
    svg = (tmp_path / lang / "till.svg").read_text()
    for word in words:  # Rich's SVG writes spaces as &#160;
        assert word.replace(" ", "&#160;") in svg
