"""The till screen in French (the default) and in English (LOYALTY_LANG=en): keys, prompts, panels, status bar,
messages and Textual's own words (Quit, the command palette), with money and times as each language reads them."""

from datetime import datetime, timezone

import pytest

from terminal import app as till_app
from terminal.app import TillApp

from .test_app import OIL, RAZORS, SIZE, THRESHOLD, identify, pilot_test, text_of, type_in

NOW = datetime(2026, 12, 5, 13, 32, 7, tzinfo=timezone.utc)  # 14:32 in Paris


@pytest.fixture
def db(tmp_path):
    return str(tmp_path / "till.db")


@pytest.fixture(autouse=True)
def fixed_clock(monkeypatch):
    monkeypatch.setattr(till_app, "clock", lambda: NOW)


def key_labels(app) -> dict[str, str]:
    """The keys' labels the footer shows, and the hidden ctrl+p and escape."""
    return {
        key: active.binding.description
        for key, active in app.screen.active_bindings.items()
        if active.binding.show or key in ("ctrl+p", "escape")
    }


async def sell(app, pilot) -> None:
    await type_in(pilot, f"3*{OIL}")
    await type_in(pilot, RAZORS)


@pilot_test
async def test_the_till_speaks_french_by_default(db):
    app = TillApp(db, "S001-T01", cashier="alice")
    async with app.run_test(size=SIZE) as pilot:
        assert text_of(app, "#prompt") == "scanner ou saisir le GTIN (3*GTIN pour une quantité, GTIN@1.99 pour un prix)"
        assert text_of(app, "#card") == "pas de carte\nF2 : saisir ou scanner la carte fidélité"
        assert key_labels(app) == {
            "ctrl+q": "Quitter",
            "ctrl+p": "Commandes",
            "f2": "Carte",
            "f3": "Annuler ticket",
            "f4": "Annuler ligne",
            "f6": "Utiliser points",
            "f7": "Retour",
            "f8": "Réimprimer",
            "f9": "Chèque fidélité",
            "f10": "Encaisser",
            "escape": "Scanner",
            "f12": "Clôture du jour",
            "ctrl+t": "Mode école",
            "f5": "Ticket",
        }
        await sell(app, pilot)
        assert text_of(app, "#message") == "razors  1 x 1,91\u00a0€"
        assert text_of(app, "#totals") == "TOTAL 18,17\u00a0€   articles 4\npayé 0,00\u00a0€   reste 18,17\u00a0€"
        await identify(app, pilot)
        assert text_of(app, "#message") == "carte *********0018 identifiée"
        assert text_of(app, "#card") == (
            "carte *********0018  client\nsolde 0 point  (hors ligne)\n"
            f"prochain chèque fidélité dans {THRESHOLD} points"
        )
        await pilot.press("f6")
        assert text_of(app, "#prompt") == "points à utiliser"
        await type_in(pilot, "500")
        assert text_of(app, "#message") == (
            "pas assez de points : la carte en a 0 et 500 sont demandés ; utilisez-en au plus 0"
        )
        await pilot.press("f4")
        assert text_of(app, "#prompt") == "numéro de la ligne à annuler (Entrée = dernière ligne)"
        await type_in(pilot, "deux")
        assert text_of(app, "#message") == (
            "'deux' n'est pas un numéro de ligne : saisissez le numéro de la première colonne"
        )
        await pilot.press("f10")
        assert text_of(app, "#prompt") == (
            "paiement : especes|carte [montant], cheque NUMERO, ex. especes 50 (Entrée = espèces, montant exact)"
        )
        await type_in(pilot, "especes 50")
        assert text_of(app, "#message") == "ticket clôturé ; monnaie à rendre : 31,83\u00a0€"
        # AGEC: the receipt is not printed unasked; the sign says so and F5 prints it once
        assert text_of(app, "#agec") == "Ticket de caisse sur demande (loi AGEC) : demandez-le en caisse (F5)"
        assert app.session.printer.output == b""
        await pilot.press("f5")
        assert text_of(app, "#message") == "ticket imprimé" and app.session.printer.output
        await pilot.press("f5")
        assert text_of(app, "#message").startswith("aucun ticket en attente")
        await pilot.pause(0.3)
        status = text_of(app, "#status")
        rules = status.split(" | ")[3]
        assert rules.startswith("règles ")
        assert status == (
            "hors ligne (pas de serveur) | en attente 1 | dernier accusé jamais | "
            f"{rules} | lecteur aucun (saisie/scan) | magasin S001 | caisse S001-T01 | "
            "caissier alice | 05/12/2026 14:32"
        )


@pilot_test
async def test_the_till_speaks_english_with_loyalty_lang_en(db, english):
    app = TillApp(db, "S001-T01", cashier="alice")
    async with app.run_test(size=SIZE) as pilot:
        assert text_of(app, "#prompt") == "scan or type GTIN (3*GTIN for a quantity, GTIN@1.99 for a price)"
        assert text_of(app, "#card") == "no card\nF2: type or scan the loyalty card"
        assert key_labels(app) == {
            "ctrl+q": "Quit",
            "ctrl+p": "Commands",
            "f2": "Card",
            "f3": "Cancel ticket",
            "f4": "Void",
            "f6": "Redeem",
            "f7": "Return",
            "f8": "Reprint",
            "f9": "Cheque",
            "f10": "Pay",
            "escape": "Scan",
            "f12": "Close day",
            "ctrl+t": "Training",
            "f5": "Receipt",
        }
        await sell(app, pilot)
        assert text_of(app, "#totals") == "TOTAL €18.17   items 4\npaid €0.00   due €18.17"
        await identify(app, pilot)
        assert text_of(app, "#card") == (
            f"card *********0018  customer\nbalance 0 points  (offline)\nnext loyalty cheque in {THRESHOLD} points"
        )
        await pilot.press("f4")
        await type_in(pilot, "two")
        assert text_of(app, "#message") == "'two' is not a line number: type the number shown in the first column"
        await pilot.press("f10")
        await type_in(pilot, "cash 50")
        assert text_of(app, "#message") == "ticket closed; change to give: €31.83"
        await pilot.pause(0.3)
        status = text_of(app, "#status")
        rules = status.split(" | ")[3]
        assert status == (
            "offline (no broker) | backlog 1 | last ack never | "
            f"{rules} | reader none (typed/scanned) | store S001 | till S001-T01 | "
            "cashier alice | 05/12/2026 14:32"
        )


@pytest.mark.parametrize(
    "lang, prompt, titles",
    [
        ("fr", "Rechercher une commande…", {"Thème", "Quitter", "Touches", "Capture d'écran"}),
        ("en", "Search for commands…", {"Theme", "Quit", "Keys", "Screenshot"}),
    ],
)
def test_textual_s_command_palette_is_translated(db, monkeypatch, lang, prompt, titles):
    from textual.command import CommandInput

    monkeypatch.setenv("LOYALTY_LANG", lang)

    @pilot_test
    async def run():
        app = TillApp(db, "S001-T01", cashier="alice")
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("ctrl+p")
            await pilot.pause()
            assert app.screen.query_one(CommandInput).placeholder == prompt
            assert titles <= {command.title for command in app.get_system_commands(app.screen)}
            await pilot.press("escape")

    run()


def test_basket_refusals_speak_the_till_s_language():
    from terminal.basket import Basket
    from terminal.errors import BasketError
    from terminal.till import default_catalogue

    basket = Basket(default_catalogue())
    with pytest.raises(BasketError) as err:
        basket.scan("3017620422003")
    assert str(err.value) == (
        "l'article 3017620422003 n'est pas au catalogue : saisissez son prix ainsi : 3017620422003@1.99"
    )
    basket.scan(RAZORS)
    with pytest.raises(BasketError) as err:
        basket.pay("cheque", 500)
    assert str(err.value) == (
        "chèque paie au plus le reste dû (1,91\u00a0€) ; seules les espèces donnent lieu à un rendu de monnaie"
    )


@pilot_test
async def test_on_a_narrow_terminal_the_status_bar_wraps_instead_of_hiding_the_till_and_the_time(db):
    app = TillApp(db, "S001-T01", cashier="alice")
    async with app.run_test(size=(80, 24)) as pilot:
        status = app.screen.query_one("#status")
        for _ in range(50):  # the bar is filled by a timer, then laid out again: up to 5 s on a loaded machine
            await pilot.pause(0.1)
            if status.size.height >= 2:
                break
        assert text_of(app, "#status").endswith("| caissier alice | 05/12/2026 14:32")
        assert status.size.height >= 2 and status.size.width <= 80  # every part on screen, none cut off


@pilot_test
async def test_a_loyalty_cheque_issued_is_told_in_french(db):
    """The cheque entry's name the till composes (`loyalty cheque: 2 x 5.00 EUR`) reads in the cashier's language."""
    from terminal import cardstate

    from .test_app import CARD

    app = TillApp(db, "S001-T01")
    cardstate.remember_balance(app.session.journal.conn, CARD, 2 * THRESHOLD + 7, "2026-01-01T00:00:00+00:00")
    async with app.run_test(size=SIZE) as pilot:
        await type_in(pilot, RAZORS)
        await identify(app, pilot)
        await pilot.press("f9")
        assert text_of(app, "#message").replace("\xa0", " ") == (
            f"chèques fidélité : 2 x 5,00 € ({2 * THRESHOLD} points) : imprimé à la clôture du ticket"
        )
