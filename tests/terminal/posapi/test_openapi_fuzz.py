"""schemathesis against /openapi.json: generated calls (valid and invalid) never get a server error, and every
answer matches the document (status, media type, schema, headers). Baskets' calls are aimed at an open basket
half of the time, so evaluate, redeem and commit are reached with generated bodies, not only refused at 404."""
from __future__ import annotations

import uuid
import zlib

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from terminal import cardstate

from .conftest import CARD, Pos

EXAMPLES = 25  # per operation and generation mode: keeps the module under a minute on the shared 2-core machine


@pytest.fixture(scope="module")
def till(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LOYALTY_LANG", "en")
        pos = Pos(tmp_path_factory.mktemp("fuzz"))
        pos.host.run(lambda: cardstate.remember_balance(pos.host.session.journal.conn, CARD, 5000,
                                                        "2026-01-01T00:00:00+00:00"))
        yield pos
        pos.close()


def open_basket(till) -> str:
    """The open basket's id (one is opened, with the card and a line, when there is none)."""
    host = till.host
    if host.basket is None:
        basket = till.open()
        till.post(f"/baskets/{basket}/identify", {"card": CARD})
        till.post(f"/baskets/{basket}/evaluate", {"lines": [{"gtin": "3000000000014", "quantity": 1,
                                                             "unit_cents": 999, "category": "grocery",
                                                             "vat_rate": 550}]})
    return host.basket.id


def operations(app):
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    return [result.ok() for result in schema.get_all_operations()]


# schemathesis' pytest plugin (schema.parametrize) reads a node attribute pytest 9 no longer has: its Python API
# and Hypothesis are driven directly instead, one operation and generation mode at a time.
@pytest.mark.timeout(300)
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=lambda m: m.value)
def test_no_server_error_and_every_answer_matches_the_document(till, mode):
    # Excluded: positive_data_acceptance. A schema-valid call may be refused by the till's rules with 422 (not
    # enough points, tenders that do not pay what is due, a card on the hot-list): that is the contract.
    auth = {"Authorization": f"Bearer {till.token.read_text().strip()}"}
    for operation in operations(till.app):
        @given(operation.as_strategy(generation_mode=mode))
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True,
                  database=None)
        def call(case):
            if "basket" in (case.path_parameters or {}) and zlib.crc32(repr(case.body).encode()) % 2 == 0:
                case.path_parameters["basket"] = open_basket(till)
            headers = dict(case.headers or {})
            if mode is GenerationMode.POSITIVE and "Idempotency-Key" in headers:
                # A POS sends a new key per call; the same key with another call is refused (422) by design.
                headers["Idempotency-Key"] = uuid.uuid4().hex
            case.headers = headers
            # The POS's token, unless an invalid Authorization was generated: that one is sent as made.
            case.call_and_validate(headers=None if "Authorization" in headers else auth,
                                   excluded_checks=[positive_data_acceptance])

        call()
