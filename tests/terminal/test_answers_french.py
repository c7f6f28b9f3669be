"""Head office's refusals on a French till: the server sends a code and its parameters beside its English
message, the till shows the code through its catalog; an older reply (no code) shows its message."""

from __future__ import annotations

from datetime import datetime, timezone

import msgspec
import pytest

from programme.i18n import use_language
from server.ingest.answers import answer
from server.ingest.store_api import open_store
from sync.requests import (
    BalanceRequest,
    ChequeRequest,
    PhoneRequest,
    ReleaseRequest,
    Reply,
    ReserveRequest,
    TicketRequest,
)
from terminal.answers import MESSAGES, shown
from terminal.errors import ReturnError

from .test_requests import chain  # noqa: F401 - the fixture: head office up, till A sold to the card

FRENCH = {
    "ticket_other_store": "le ticket S002-T01-00000001 a été vendu au magasin S002 : un retour se fait dans le "
    "magasin qui l'a vendu ; envoyez le client au magasin S002",
    "ticket_not_at_head_office": "le ticket S003-T01-00000007 n'est pas au siège : vérifiez le numéro en pied de "
    "ticket ; un ticket arrive au siège quand la caisse qui l'a vendu s'est synchronisée",
    "card_unknown": "la carte *********0025 n'est pas connue du siège : jamais utilisée, pas enregistrée",
    "reserve_held_elsewhere": "seulement 40 points disponibles : une autre caisse a réservé 60 points sur cette "
    "carte ; utilisez-en au plus 40",
    "reserve_held_elsewhere_none": "aucun point disponible : une autre caisse a réservé 60 points sur cette carte ; "
    "attendez la fin de cette vente",
    "reserve_short": "seulement 40 points disponibles au siège pour cette carte, 100 demandés ; utilisez-en au plus 40",
    "reserve_none": "aucun point disponible au siège pour cette carte, 100 demandés : ils ont été dépensés depuis "
    "que la caisse a lu le solde ; identifiez la carte à nouveau",
    "reserve_used": "la demande r1 a déjà servi : demandez à nouveau",
    "release_not_held": "la réservation r1 n'est pas détenue par cette caisse",
    "phone_invalid": "06 12 n'est pas un numéro de téléphone : tapez les 10 chiffres du client, ex. 06 12 34 56 78",
    "phone_nobody": "aucun client ayant accepté d'être retrouvé par téléphone n'a le numéro 06 12 34 56 78 : scannez "
    "ou saisissez la carte",
    "phone_several": "plusieurs clients ont le numéro 06 12 34 56 78 : scannez ou saisissez la carte",
}
FRENCH.update(
    {
        "cheque_unknown": "le chèque fidélité 123 est inconnu du siège : vérifiez les chiffres, ou prenez un autre "
        "moyen de paiement",
        "cheque_cancelled": "le chèque fidélité 123 a été annulé à l'accueil : il ne peut plus être utilisé",
        "cheque_spent": "le chèque fidélité 123 a déjà été utilisé le 05/12/2026 (ticket S001-T01-00000001) : "
        "gardez-le et adressez le client à l'accueil",
        "cheque_other_card": "le chèque fidélité 123 a été émis pour une autre carte (*********0025) : identifiez "
        "cette carte (F2) pour l'utiliser",
        "cheque_expired": "le chèque fidélité 123 a expiré le 05/12/2026 : il ne peut plus être utilisé",
        "cheque_held": "le chèque fidélité 123 est en cours d'utilisation à la caisse S001-T09 : un chèque ne paie "
        "qu'une fois",
    }
)
PHONES = {"phone_invalid": "06 12", "phone_nobody": "06 12 34 56 78", "phone_several": "06 12 34 56 78"}
PARAMS = {"ticket": "", "store": "S002", "card": "*********0025", "available": 40, "held": 60, "asked": 100}
PARAMS.update(request="r1", reservation="r1")
PARAMS.update(serial="123", day="2026-12-05", till="S001-T09")
TICKETS = {"ticket_other_store": "S002-T01-00000001", "ticket_not_at_head_office": "S003-T01-00000007"}


@pytest.mark.parametrize("code", sorted(MESSAGES))
def test_a_french_till_shows_each_answer_code_in_french(code):
    ticket = TICKETS.get(code, "S001-T01-00000001" if code == "cheque_spent" else "")
    params = {**PARAMS, "ticket": ticket, "phone": PHONES.get(code, "")}
    reply = Reply(schema=1, id="1", kind="ticket", found=False, message="in English", code=code, params=params)
    assert shown(reply) == FRENCH[code]


def test_every_code_has_its_french():
    assert sorted(FRENCH) == sorted(MESSAGES)


def test_an_older_reply_without_a_code_shows_its_text():
    assert shown(Reply(schema=1, id="1", kind="ticket", found=False, message="ticket X: as it came")) == (
        "ticket X: as it came"
    )
    newer = Reply(schema=1, id="1", kind="ticket", found=False, message="as it came", code="a_newer_code")
    assert shown(newer) == "as it came"  # a code this till does not know
    missing = Reply(schema=1, id="1", kind="ticket", found=False, message="as it came", code="card_unknown")
    assert shown(missing) == "as it came"  # its parameters missing


def server_answers(tmp_path, codes: bool) -> dict[str, Reply]:
    """Head office's refusals of each kind, on a store holding nothing."""
    store = open_store(str(tmp_path / "server.db"))
    now = datetime.now(timezone.utc)
    try:
        asked = {
            "ticket_not_at_head_office": TicketRequest(schema=1, id="1", ticket_id="S003-T01-00000007", codes=codes),
            "card_unknown": BalanceRequest(schema=1, id="2", card="2900000000025", codes=codes),
            "reserve_none": ReserveRequest(
                schema=1, id="3", card="2900000000025", points=100, after_seq=0, codes=codes
            ),
            "release_not_held": ReleaseRequest(schema=1, id="4", reservation="r1", codes=codes),
            "phone_invalid": PhoneRequest(schema=1, id="5", phone="06 12", codes=codes),
            "phone_nobody": PhoneRequest(schema=1, id="6", phone="06 12 34 56 78", codes=codes),
            "cheque_unknown": ChequeRequest(schema=1, id="7", serial="123", card="2900000000025", codes=codes),
        }
        return {code: answer(store.conn, "S001-T02", request, now) for code, request in asked.items()}
    finally:
        store.close()


def test_head_office_sends_codes_the_till_reads_with_its_english_text(tmp_path):
    for code, reply in server_answers(tmp_path, codes=True).items():
        assert (reply.found, reply.code) == (False, code)
        with use_language("en"):
            assert shown(reply) == reply.message  # the till's English is the server's text
        assert shown(reply) == FRENCH[code]


def test_an_older_till_gets_no_code_and_can_read_the_reply(tmp_path):
    """An older till decodes replies refusing unknown fields: it is sent the fields it knows."""
    replies = server_answers(tmp_path, codes=False)
    for reply in replies.values():
        payload = msgspec.json.decode(msgspec.json.encode(reply))
        assert "code" not in payload and "params" not in payload and payload["message"]
    assert (
        replies["phone_nobody"].message == FRENCH["phone_nobody"]
    )  # the phone look-up's message to an older till: head office's language


@pytest.mark.timeout(60)
def test_a_french_till_reads_head_offices_refusal_in_french(chain):  # noqa: F811
    _, _, _, session = chain
    with pytest.raises(ReturnError) as refused:
        session.find_original("S003-T01-00000007")
    assert str(refused.value) == FRENCH["ticket_not_at_head_office"]
