"""Every refusal of the POS API as an RFC 9457 problem document, with a stable `code` and a cashier's text.

`PosApiError` is this package's one exception root: raised anywhere under a view, it becomes the problem
document of its code (type, title, status) with its detail. The codes and their HTTP statuses are fixed here
and listed in docs/pos-api.md; the titles and details are shown to the cashier, so they go through `_()`.
"""

from __future__ import annotations

from programme.i18n import N_, _

from ..errors import TillError

PROBLEM_TYPE = "https://loyalty.example/problems/"  # + code: a stable identifier, not a page to fetch
MEDIA_TYPE = "application/problem+json"

# code -> (HTTP status, title). Titles are marked here and translated when shown.
CODES: dict[str, tuple[int, str]] = {
    "malformed_request": (400, N_("The request could not be read")),
    "idempotency_key_missing": (400, N_("Idempotency-Key header missing")),
    "unauthorized": (401, N_("POS not recognised")),
    "not_found": (404, N_("No such call")),
    "basket_not_found": (404, N_("No such basket")),
    "ticket_not_found": (404, N_("No such ticket")),
    "method_not_allowed": (405, N_("Method not allowed")),
    "basket_open": (409, N_("Another basket is open")),
    "basket_refused": (409, N_("The basket cannot do that now")),
    "pos_ticket_committed": (409, N_("POS ticket already committed")),
    "no_card_on_reader": (409, N_("No card on the reader")),
    "unsupported_media_type": (415, N_("Send JSON")),
    "invalid_request": (422, N_("Invalid request")),
    "idempotency_key_reused": (422, N_("Idempotency-Key reused with another request")),
    "card_refused": (422, N_("Card refused")),
    "phone_not_available": (422, N_("Phone look-up not available")),
    "phone_not_found": (422, N_("No customer with this phone number")),
    "redeem_refused": (422, N_("Redemption refused")),
    "tenders_mismatch": (422, N_("Tenders do not match what is due")),
    "return_refused": (422, N_("Return refused")),
    "till_refused": (422, N_("The till refused")),
    "internal_error": (500, N_("The till failed")),
}


class PosApiError(TillError):
    """A POS call was refused; `code` is stable (docs/pos-api.md), `detail` says what to do."""

    def __init__(self, code: str, detail: str, errors: list[dict] | None = None):
        super().__init__(detail)
        if code not in CODES:
            raise ValueError(f"unknown problem code {code!r}")
        self.code = code
        self.detail = detail
        self.errors = errors

    @property
    def status(self) -> int:
        return CODES[self.code][0]

    def document(self) -> dict:
        return problem(self.code, self.detail, self.errors)


def problem(code: str, detail: str, errors: list[dict] | None = None) -> dict:
    """The problem document of `code` (RFC 9457 members, plus `code` and, for invalid fields, `errors`)."""
    status, title = CODES[code]
    doc = {"type": PROBLEM_TYPE + code, "title": _(title), "status": status, "detail": detail, "code": code}
    if errors:
        doc["errors"] = errors
    return doc


def from_till_error(exc: Exception) -> PosApiError:
    """The problem for a refusal of the till's own code (terminal/, programme/): its message is already the
    cashier's text."""
    from programme.errors import CardNumberError, ProgrammeError, RedemptionError, ReturnError as ProgrammeReturn

    from ..errors import BasketError, CardRefused, RedeemError, ReturnError

    if isinstance(exc, PosApiError):
        return exc
    kinds = [
        (CardRefused, "card_refused"),
        (CardNumberError, "card_refused"),
        (RedeemError, "redeem_refused"),
        (RedemptionError, "redeem_refused"),
        (ReturnError, "return_refused"),
        (ProgrammeReturn, "return_refused"),
        (BasketError, "basket_refused"),
        (ProgrammeError, "invalid_request"),
        (TillError, "till_refused"),
    ]
    code = next(code for kind, code in kinds if isinstance(exc, kind))
    return PosApiError(code, str(exc))
