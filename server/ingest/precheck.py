"""The checks of a synced ticket that need no database, done as it arrives, beside the write before it.

Ingest writes on one thread; paho's thread decodes the next messages meanwhile (SQLite lets go of
the GIL while it writes). The ticket's hash, its signature check and its points check are pure work
on the ticket: server.ingest.receive does them there too, and the store takes each result while it still
holds — the same till keys (a key registered since means checking again), a rules version already
known (a published version never changes). A ticket that claims an offer is checked in the batch's
transaction: whether a campaign's offer was already used is the database's to say.
"""

from __future__ import annotations

from dataclasses import dataclass

from programme.errors import ProgrammeError
from programme.returns import REFUND_PREFIX
from programme.signing import SignatureError, verify_ticket
from programme.ticket import Ticket, ticket_hash

from server.ingest.offers_check import offer_claims
from server.ingest.rules_check import Discrepancy, RulesCatalog, check_ticket


@dataclass(frozen=True)
class Precheck:
    digest: str  # ticket_hash(ticket)
    keys: dict | None  # the till keys the signature was checked against (by identity); None: not checked
    signature_error: str | None
    points_checked: bool
    discrepancy: Discrepancy | None

    def signature_for(self, keys: dict) -> str | None | bool:
        """The signature's verdict if it was checked against these keys, else False."""
        return self.signature_error if self.keys is keys else False


def signature_error(ticket: Ticket, key) -> str | None:
    """Why the ticket's signature fails with `key`, or None when it holds."""
    try:
        verify_ticket(ticket, key)
    except SignatureError as exc:
        return str(exc)
    return None


def precheck(ticket: Ticket, keys: dict | None, catalog: RulesCatalog | None) -> Precheck:
    """What can be checked now with the keys and rules the store has loaded (either may be None: not yet)."""
    signature = None
    if keys is not None and ticket.terminal in keys:
        signature = signature_error(ticket, keys[ticket.terminal])
    points_checked, discrepancy = False, None
    if (
        catalog is not None
        and ticket.rules_version in catalog.by_version
        and not offer_claims(ticket)
        and not any(e.rule.startswith(REFUND_PREFIX) for e in ticket.points)
    ):  # refunds: the database's to say
        try:
            discrepancy, points_checked = check_ticket(catalog, ticket), True
        except ProgrammeError:
            pass  # the store checks it again in the batch and records why it could not
    return Precheck(ticket_hash(ticket), keys, signature, points_checked, discrepancy)


def prechecked(item: tuple) -> Precheck | None:
    """The Precheck carried by a (topic, ticket, payload[, precheck]) item, if any."""
    return item[3] if len(item) > 3 else None
