"""The per-line explanation as text: which rule gave how many points (printed by `loyalty rules explain`)."""

from __future__ import annotations

from datetime import datetime

import msgspec

from .engine import Context, Explanation, context_of_entries, explain
from .errors import RulesError
from .rules import RuleSet
from .ticket import Line, Ticket, make_line


def render(explanation: Explanation, lines: list[Line]) -> str:
    """A fixed-width table: one row per (line, rule), notes for lines that earn nothing, the total."""
    rows = [
        f"rules {explanation.rules_version}, card {explanation.card or 'none'}",
        f"{'#':>3}  {'article':<14} {'category':<11} {'cents':>6}  {'rule':<28} {'points':>6}",
    ]
    for n, x in enumerate(explanation.lines):  # explanation.lines[n] explains line n (its .line is n)
        line = lines[n]
        head = f"{n + 1:>3}  {line.gtin:<14} {line.category:<11} {line.total_cents:>6}  "
        if not x.parts:
            rows.append(f"{head}{x.note:<28} {0:>6}")
        for k, part in enumerate(x.parts):
            rows.append(f"{head if k == 0 else ' ' * len(head)}{part.rule:<28} {part.points:>6}")
    for part in explanation.basket.parts:
        rows.append(f"{'':>3}  {'basket':<14} {'':<11} {'':>6}  {part.rule:<28} {part.points:>6}")
    for claim in explanation.context:
        rows.append(f"{'':>3}  {'context':<14} {'':<11} {'':>6}  {claim:<28} {0:>6}")
    rows.append(f"{'total':<68} {explanation.points:>6}")
    return "\n".join(rows)


class ExampleTicket(msgspec.Struct, forbid_unknown_fields=True):
    """A ticket as written in docs/rules.md: lines are [gtin, category, quantity, unit_cents(, discount)]."""

    at: datetime
    lines: list[list[str | int]]
    card: str | None = None
    store: str | None = None
    tier: str | None = None
    segments: list[str] = []


def example_lines(example: ExampleTicket) -> list[Line]:
    out = []
    for row in example.lines:
        gtin, category, quantity, unit, *rest = row
        out.append(
            make_line(str(gtin), int(quantity), int(unit), str(category), discount_cents=int(rest[0]) if rest else 0)
        )
    return out


def explain_example(rules: RuleSet, data: dict) -> tuple[Explanation, list[Line]]:
    try:
        example = msgspec.convert(data, ExampleTicket)
    except msgspec.ValidationError as exc:
        raise RulesError(f"example ticket: {exc}") from None
    lines = example_lines(example)
    ctx = Context(
        card=example.card, at=example.at, store=example.store, tier=example.tier, segments=frozenset(example.segments)
    )
    return explain(rules, lines, ctx), lines


def context_of_ticket(ticket: Ticket) -> Context:
    """The inputs the till used: its card, store and time (opened_at), and the tier and segments it claimed."""
    tier, segments = context_of_entries(ticket.points)
    return Context(card=ticket.card, at=ticket.opened_at, store=ticket.store, tier=tier, segments=segments)


def explain_ticket(rules: RuleSet, ticket: Ticket) -> Explanation:
    return explain(rules, ticket.lines, context_of_ticket(ticket))
