"""Tickets: how a browser, which cannot set headers on a WebSocket, authenticates one.

``POST /api/chat/tickets`` (with the user's token) answers a random ticket that works once, for a
few seconds (``AGORA_CHAT_TICKET_SECONDS``); the client connects to ``/api/chat/ws?ticket=...``.
The cache keeps the ticket's SHA-256, not the ticket, and ``take`` reads and deletes it in one
step (Redis GETDEL), so of two connections with one ticket at most one gets in, on any node.
With Redis unreachable a ticket cannot be kept: the client signs in with an ``auth`` call instead.
"""

from __future__ import annotations

import hashlib
import secrets

from agora.platform.cache import Cache
from agora.platform.errors import Unauthorized


def _key(ticket: str) -> str:
    return "chat:ticket:" + hashlib.sha256(ticket.encode()).hexdigest()


async def issue(cache: Cache, *, user_id: int, ttl_seconds: int) -> str:
    ticket = secrets.token_urlsafe(32)
    await cache.set(_key(ticket), str(user_id).encode(), ttl_seconds=ttl_seconds)
    return ticket


async def redeem(cache: Cache, ticket: str) -> int:
    """The user the ticket was issued to; it works no more."""
    value = await cache.take(_key(ticket)) if 0 < len(ticket) <= 128 else None
    if value is None:
        raise Unauthorized("is invalid, expired or used", field="ticket")
    return int(value)
