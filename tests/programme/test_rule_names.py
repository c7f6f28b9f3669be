"""The ledger's rule names the code composes are shown in the reader's language; head office's names as written."""

import pytest

from programme.i18n import use_language
from programme.rule_names import rule_text

SHOWN = [
    ("base", "points de base", "base points"),
    ("base: 1 point per euro", "base : 1 point par euro", "base: 1 point per euro"),
    ("base: 2 points per euro", "base : 2 points par euro", "base: 2 points per euro"),
    ("category:fresh", "rayon fresh", "category fresh"),
    ("article:3017620422003", "article 3017620422003", "article 3017620422003"),
    ("bonus:3017620422003", "bonus sur l'article 3017620422003", "bonus on article 3017620422003"),
    ("tier:or", "niveau or", "or tier"),
    ("segment:families", "segment families", "segment families"),
    ("promotion:fresh x2", "promotion fresh x2", "promotion fresh x2"),
    ("offer:12", "offre de la campagne 12", "offer of campaign 12"),
    ("points tender", "paiement en points", "points as a tender"),
    (
        "refund: points tender of S001-T01-00000042",
        "points payés sur S001-T01-00000042 rendus",
        "points tender of S001-T01-00000042 given back",
    ),
    (
        "return of S001-T01-00000042 line 2",
        "retour de S001-T01-00000042 ligne 2",
        "return of S001-T01-00000042 line 2",
    ),
    ("return of S001-T01-00000042", "retour de S001-T01-00000042", "return of S001-T01-00000042"),
    ("return of an unknown ticket", "retour d'un ticket inconnu", "return of an unknown ticket"),
    ("loyalty cheque: 1 x 5.00 EUR", "chèque fidélité : 1 x 5,00 €", "loyalty cheque: 1 x €5.00"),
    ("loyalty cheque: 2 x 1250.50 EUR", "chèques fidélité : 2 x 1 250,50 €", "loyalty cheques: 2 x €1,250.50"),
    ("desk adjustment: till error", "ajustement à l'accueil : till error", "desk adjustment: till error"),
    (
        "transfer to 2900000000018: card lost",
        "transfert vers la carte 2900000000018 : card lost",
        "transfer to card 2900000000018: card lost",
    ),
    (
        "transfer from 2900000000025: card lost",
        "transfert depuis la carte 2900000000025 : card lost",
        "transfer from card 2900000000025: card lost",
    ),
    (
        "earned 2026-01-01, expired 2027-12-31",
        "gagnés le 01/01/2026, expirés le 31/12/2027",
        "earned 01/01/2026, expired 31/12/2027",
    ),
    ("Double points week", "Double points week", "Double points week"),  # head office's own name: as written
    ("", "", ""),
]


@pytest.mark.parametrize("stored, french, english", SHOWN)
def test_a_rule_name_reads_in_french_and_in_english(stored, french, english):
    with use_language("fr"):
        assert rule_text(stored, plain=True) == french
    with use_language("en"):
        assert rule_text(stored, plain=True) == english


def test_on_paper_money_has_plain_spaces_and_on_pages_the_languages_own():
    with use_language("fr"):
        assert rule_text("loyalty cheque: 2 x 1250.50 EUR") == "chèques fidélité : 2 x 1\u202f250,50\xa0€"
