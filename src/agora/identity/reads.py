"""Identity's read side as one object: the profiles routes show, bound once.

Like the blog's ``BlogReads``: the composition root binds a factory of autocommit sessions
(opened only for what the cache cannot answer), the cache and its lifetime once
(``agora.container``); a dependency hands it to the routes (``identity/deps.py``), which pass
only what the request says.
"""

from __future__ import annotations

from dataclasses import dataclass

from agora.identity import read_cache, service
from agora.identity.schemas import Profile
from agora.identity.token_validity import TokenValidity
from agora.platform.cache import Cache
from agora.platform.db import SessionFactory


@dataclass(frozen=True, slots=True)
class IdentityReads:
    sessions: SessionFactory
    cache: Cache
    ttl_seconds: int
    # when each user's tokens were last revoked (cached with its own, shorter lifetime)
    token_validity: TokenValidity

    async def own_profile(self, user_id: int) -> Profile | None:
        """The user's profile as they see it themselves (cached), or None: no such user."""
        return await read_cache.own_profile(
            sessions=self.sessions, cache=self.cache, ttl_seconds=self.ttl_seconds, user_id=user_id
        )

    async def profile(self, username: str, viewer_id: int | None) -> Profile:
        """``username``'s profile as ``viewer_id`` sees it; not cached (a rare read)."""
        async with self.sessions() as session:
            return await service.get_profile(
                session=session, username=username, viewer_id=viewer_id
            )

    async def check_not_revoked(self, user_id: int, *, issued_at: float) -> None:
        """Unauthorized if the token was issued before the user's tokens were last revoked."""
        await self.token_validity.check_not_revoked(user_id, issued_at=issued_at)
