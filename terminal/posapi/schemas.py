"""What the POS sends and what it gets back (pydantic models: APIFlask writes /openapi.json from them).

Every number is bounded by the wire bounds of programme/ticket.py, so nothing the POS sends can reach the
journal past what a ticket may carry; models are strict (no "5" for 5, no 5.0) and refuse unknown fields.
`field_errors` turns pydantic's findings into sentences a cashier can read.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from programme.i18n import _
from programme.ticket import MAX_AMOUNT_CENTS, MAX_ENTRY_POINTS, MAX_LINES, MAX_QUANTITY, MAX_TEXT, MAX_UNIT_CENTS

MAX_VAT_BASIS_POINTS = 10_000  # 100.00 %
MAX_POS_TICKET = 64
GTIN_PATTERN = r"^(\d{8}|\d{12,14})$"
TICKET_PATTERN = r"^S\d{3,5}-T\d{2,3}-\d{8,16}$"
IDEMPOTENCY_KEY_PATTERN = r"^[!-~]{1,200}$"  # printable ASCII, no space

Text = Annotated[str, Field(min_length=1, max_length=MAX_TEXT)]
Cents = Annotated[int, Field(ge=0, le=MAX_AMOUNT_CENTS)]
PointsCount = Annotated[int, Field(ge=0, le=MAX_ENTRY_POINTS)]


class In(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")


class Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- requests ----------------------------------------------------------------------------------------------
class OpenBasketIn(In):
    cashier: Text | None = Field(None, description="Printed on the receipt; the till's default otherwise.")


class IdentifyIn(In):
    """Exactly one of the three: the card number typed or scanned, the card on the till's reader, a phone."""

    card: str | None = Field(None, max_length=32, description="13 digits, as typed or scanned (spaces allowed).")
    from_reader: bool | None = Field(None, description="true: the card read on the till's own PC/SC reader.")
    phone: str | None = Field(None, max_length=32, description="Not available yet: answered `phone_not_available`.")


class LineIn(In):
    gtin: str = Field(pattern=GTIN_PATTERN, examples=["3017620422003"])
    quantity: int = Field(ge=1, le=MAX_QUANTITY)
    unit_cents: int = Field(ge=0, le=MAX_UNIT_CENTS, description="Unit price, tax included, in cents.")
    category: Text = Field(examples=["grocery"], description="Rules categories: grocery, dairy, tobacco...")
    vat_rate: int = Field(ge=0, le=MAX_VAT_BASIS_POINTS, description="VAT rate in basis points: 2000 = 20 %.")
    label: Text | None = None
    discount_cents: int = Field(0, ge=0, le=MAX_AMOUNT_CENTS)


class EvaluateIn(In):
    lines: list[LineIn] = Field(min_length=1, max_length=MAX_LINES)


class RedeemIn(In):
    kind: Literal["points", "cheque"]
    points: int | None = Field(None, ge=1, le=MAX_ENTRY_POINTS, description="kind points: how many to redeem.")


class TenderIn(In):
    kind: Literal["cash", "bank_card", "cheque", "voucher"]
    cents: int = Field(ge=1, le=MAX_AMOUNT_CENTS, description="What this tender pays, change already given back.")


class CommitIn(In):
    pos_ticket: str = Field(
        min_length=1,
        max_length=MAX_POS_TICKET,
        pattern=r"^[!-~]+$",
        description="The POS's own ticket number (unique per POS).",
    )
    tenders: list[TenderIn] = Field(max_length=MAX_LINES)


class ReturnLineIn(In):
    line: int = Field(ge=1, le=MAX_LINES, description="Line of the original ticket, numbered from 1.")
    quantity: int = Field(ge=1, le=MAX_QUANTITY)


class ReturnIn(In):
    ticket: str = Field(pattern=TICKET_PATTERN, description="Our ticket number, at the foot of the receipt.")
    lines: list[ReturnLineIn] = Field(min_length=1, max_length=MAX_LINES)
    tender: Literal["cash", "bank_card"] = "cash"


# -- answers -------------------------------------------------------------------------------------------------
class RulePoints(Out):
    rule: str
    points: int


class LineOut(Out):
    line: int = Field(description="Numbered from 1.")
    gtin: str
    quantity: int
    unit_cents: int
    total_cents: int
    vat_rate: int
    points: int
    rules: list[RulePoints]


class OfferOut(Out):
    campaign: int
    name: str
    kind: Literal["bonus_points", "cheque"]
    points: int
    cheque_cents: int
    category: str | None = Field(
        default=None, description="Given only on a ticket with a line of this category that earns points."
    )
    min_basket_cents: int = Field(
        default=0, description="Given only on a ticket with this much spend that earns points (of its category)."
    )


class CardOut(Out):
    masked: str
    first_name: str | None
    tier: str | None
    balance: int
    balance_confirmed: bool


class RedeemableOut(Out):
    points: int = Field(description="At most this many points can pay this basket now.")
    cents: int = Field(description="What those points would deduct.")
    cheques: int = Field(description="Loyalty cheques the balance gives now.")
    cheque_cents: int = Field(description="Value of each cheque.")


class BasketOut(Out):
    basket: str
    cashier: str
    card: CardOut | None
    lines: list[LineOut]
    basket_rules: list[RulePoints] = Field(description="Points of the whole basket (not of a line).")
    points: int = Field(description="Points the basket earns if committed now.")
    offers: list[OfferOut]
    total_cents: int
    points_used: int
    deducted_cents: int = Field(description="What redeemed points pay: deduct it from what the customer owes.")
    due_cents: int = Field(description="What the POS's tenders must pay at commit.")
    redeemable: RedeemableOut | None
    rules_version: str


class RedeemOut(Out):
    kind: Literal["points", "cheque"]
    points: int
    deduct_cents: int = Field(description="Take this off what the customer owes (0 for a cheque: it is printed).")
    cheques: int
    cheque_cents: int
    note: str
    basket: BasketOut


class CommitOut(Out):
    ticket: str
    pos_ticket: str
    total_cents: int
    points_earned: int
    points_redeemed: int
    balance: int | None
    receipt: list[str]
    control_slip: list[str] | None
    cheques: list[list[str]]
    print_error: str | None


class CancelOut(Out):
    basket: str
    cancelled: bool


class ReturnOut(Out):
    ticket: str
    original: str
    total_cents: int
    points_reversed: int
    receipt: list[str]


class ReprintOut(Out):
    ticket: str
    receipt: list[str]


class StatusOut(Out):
    terminal: str
    online: bool
    backlog: int
    rules_version: str
    reader: str
    basket: str | None


class FieldProblem(Out):
    field: str
    detail: str


class Problem(Out):
    type: str
    title: str
    status: int
    detail: str
    code: str
    errors: list[FieldProblem] | None = None


# -- field errors as sentences ----------------------------------------------------------------------------------
def _where(loc: tuple) -> str:
    """('lines', 3, 'quantity') -> 'line 4: quantity'; ('tenders', 0) -> 'tender 1'."""
    parts, names = [], {"lines": _("line"), "tenders": _("tender")}
    items = list(loc)
    while items:
        item = items.pop(0)
        if isinstance(item, str) and items and isinstance(items[0], int) and item in names:
            parts.append(f"{names[item]} {items.pop(0) + 1}")
        else:
            parts.append(str(item))
    return ": ".join(parts) if parts else _("the body")


def field_sentence(error: dict) -> str:
    where = _where(tuple(error.get("loc", ())))
    kind, ctx, value = error.get("type", ""), error.get("ctx") or {}, error.get("input")
    if kind == "missing":
        return _("{where} is missing").format(where=where)
    if kind == "extra_forbidden":
        return _("{where} is not a field of this call: remove it").format(where=where)
    if kind in ("greater_than_equal", "greater_than"):
        return _("{where} must be at least {limit}, got {value}").format(
            where=where, limit=ctx.get("ge", ctx.get("gt")), value=value
        )
    if kind in ("less_than_equal", "less_than"):
        return _("{where} must be at most {limit}, got {value}").format(
            where=where, limit=ctx.get("le", ctx.get("lt")), value=value
        )
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return _("{where} must be a whole number (cents, points or units)").format(where=where)
    if kind == "string_pattern_mismatch":
        if where.endswith("gtin"):
            return _("{where}: a GTIN is 8, 12, 13 or 14 digits").format(where=where)
        if where == "ticket":
            return _("ticket: give our ticket number as printed at the foot of the receipt, e.g. S001-T01-00000042")
        return _("{where} has characters it may not have (printable, no spaces)").format(where=where)
    if kind in ("string_too_short", "string_too_long"):
        return _("{where} must be 1 to {limit} characters").format(where=where, limit=ctx.get("max_length", MAX_TEXT))
    if kind in ("too_short", "too_long"):
        return _("{where} must have {low} to {high} items").format(
            where=where, low=ctx.get("min_length", 0), high=ctx.get("max_length", MAX_LINES)
        )
    if kind == "literal_error":
        return _("{where} must be one of {expected}").format(where=where, expected=ctx.get("expected", ""))
    if kind in ("string_type", "bool_type", "list_type", "model_type", "dict_type", "model_attributes_type"):
        wanted = {"string_type": _("text"), "bool_type": _("true or false"), "list_type": _("a list")}
        return _("{where} must be {wanted}").format(where=where, wanted=wanted.get(kind, _("a JSON object")))
    return _("{where} is not valid").format(where=where)


def field_errors(errors: list[dict]) -> list[dict]:
    return [
        {"field": ".".join(str(p) for p in e.get("loc", ())) or "body", "detail": field_sentence(e)} for e in errors
    ]
