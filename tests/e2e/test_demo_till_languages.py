"""Issue 21's "done when": after `make demo` (`loyalty demo`), `loyalty till --terminal S001-T01 --db ...` on the
demo's till journal shows a French screen; a scan of a catalogue article sells at its price and the receipt shows
the VAT table; the English variant works the same way."""

import subprocess
import sys

import pytest

from terminal.app import TillApp
from tests.terminal.test_app import SIZE, pilot_test, text_of, type_in

NUTELLA, CREMANT = "3017620422003", "3230321001548"  # 3,99 € at 5,5 % and 8,99 € at 20 % in the demo catalogue


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo")
    result = subprocess.run(
        [sys.executable, "-m", "loyalty", "demo", "--tickets", "20", "--tills", "1", "--dir", str(folder)],
        capture_output=True,
        text=True,
        timeout=110,
    )
    assert result.returncode == 0, result.stderr
    return folder / "till-S001-T01.db"


WANTED = {
    "fr": {
        "message": "Pâte à tartiner Nutella 400 g  1 x 3,99\u00a0€",
        "keys": "Encaisser",
        "receipt": [
            "Pâte à tartiner Nutella 400 g     3,99 € C",
            "TVA               HT        TVA        TTC",
            "A 20 %        7,49 €     1,50 €     8,99 €",
            "C 5,5 %       3,78 €     0,21 €     3,99 €",
            "total        11,27 €     1,71 €    12,98 €",
        ],
    },
    "en": {
        "message": "Pâte à tartiner Nutella 400 g  1 x €3.99",
        "keys": "Pay",
        "receipt": [
            "Pâte à tartiner Nutella 400 g      €3.99 C",
            "VAT        excl. VAT        VAT  incl. VAT",
            "A 20%          €7.49      €1.50      €8.99",
            "C 5.5%         €3.78      €0.21      €3.99",
            "total         €11.27      €1.71     €12.98",
        ],
    },
}


@pytest.mark.timeout(180)
@pytest.mark.parametrize("lang", ["fr", "en"])
@pilot_test
async def test_the_demo_till_sells_a_catalogue_article_in_french_and_in_english(demo, monkeypatch, lang):
    monkeypatch.setenv("LOYALTY_LANG", lang)
    wanted = WANTED[lang]
    app = TillApp(str(demo), "S001-T01", cashier="alice")
    async with app.run_test(size=SIZE) as pilot:
        assert wanted["keys"] in {active.binding.description for active in app.screen.active_bindings.values()}
        await type_in(pilot, NUTELLA)
        assert text_of(app, "#message") == wanted["message"]
        await type_in(pilot, CREMANT)
        await pilot.press("f10")
        await type_in(pilot, "")  # cash, the exact amount
        await pilot.press("f5")  # the customer asks for the receipt
        receipt = text_of(app, "#receipt").splitlines()
        for line in wanted["receipt"]:
            assert line in receipt
