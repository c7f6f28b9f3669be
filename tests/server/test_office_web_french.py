"""Head office's figures page in French (the language a store's head office reads by default): percentages
`80,0 %`, money `20,50 €`, and the charts' titles in French; the same page in English on request."""

from ..fixtures.desk import text

PERIOD = "start=2026-01-01&end=2026-01-31"


def test_the_value_page_and_its_charts_speak_french(office):
    page = text(office.client("head_office").get(f"/office/value?{PERIOD}", headers={"Accept-Language": "fr-FR"}))
    page = page.replace("\u202f", " ").replace("\u00a0", " ")
    assert 'id="top20">80,0 % des ventes<' in page
    assert 'id="liability">20,50 €' in page
    assert page.count("<svg") == 2 and "Pareto : part des ventes" in page and "ventes (%)" in page


def test_the_value_page_in_english_on_request(office):
    page = text(office.client("head_office").get(f"/office/value?{PERIOD}", headers={"Accept-Language": "en-GB"}))
    assert 'id="top20">80.0% of sales<' in page and 'id="liability">€20.50' in page
    assert "Pareto: share of sales" in page
