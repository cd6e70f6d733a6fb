"""Who a connection speaks for: a ticket (once), or an access token (``auth`` call, header)."""

from __future__ import annotations

from dataclasses import dataclass

from agora.chat.gateway import tickets
from agora.identity.reads import IdentityReads
from agora.identity.tokens import TokenCodec
from agora.platform.cache import Cache


@dataclass(frozen=True, slots=True)
class Authenticator:
    tokens: TokenCodec
    identity_reads: IdentityReads
    cache: Cache
    ticket_seconds: int

    async def by_token(self, token: str) -> int:
        """``Unauthorized`` for a forged, expired or revoked token (a password reset)."""
        claims = self.tokens.claims(token)
        await self.identity_reads.check_not_revoked(claims.user_id, issued_at=claims.issued_at)
        return claims.user_id

    async def by_ticket(self, ticket: str) -> int:
        return await tickets.redeem(self.cache, ticket)

    async def issue_ticket(self, user_id: int) -> str:
        return await tickets.issue(self.cache, user_id=user_id, ttl_seconds=self.ticket_seconds)
