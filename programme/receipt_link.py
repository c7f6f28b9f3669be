"""The link a receipt's QR code opens: the ticket's own page at head office, with no log-in.

The link is `<base>/r/<ticket id>/<token>`, token = HMAC-SHA256 keyed by the ticket's Ed25519 signature (a
till with a key) or else its chain hash, over the ticket id; its first 16 bytes in base64url. The till and
head office both hold the ticket, so both compute it and nothing is stored; nobody without the ticket's
signature (the till's private key) or its chain hash (which covers the previous ticket's hash, never printed)
can make a link for another ticket.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from .ticket import Ticket, ticket_hash

PATH = "/r/"
TOKEN_BYTES = 16


def link_token(ticket: Ticket) -> str:
    key = (ticket.signature or ticket_hash(ticket)).encode()
    digest = hmac.new(key, ticket.id.encode(), hashlib.sha256).digest()[:TOKEN_BYTES]
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def receipt_link(base_url: str, ticket: Ticket) -> str:
    return f"{base_url.rstrip('/')}{PATH}{ticket.id}/{link_token(ticket)}"


def token_matches(ticket: Ticket, token: str) -> bool:
    return hmac.compare_digest(link_token(ticket).encode(), token.encode())
