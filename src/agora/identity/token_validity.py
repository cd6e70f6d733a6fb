"""Access tokens a password reset revoked: those issued before ``users.tokens_valid_after``.

Checked on every signed-in request, so the moment is read from the cache (the in-process one: a
dictionary lookup; Redis: one short GET) and from the database only on a miss: a user's first
signed-in request, then once per ``AGORA_TOKEN_CHECK_CACHE_SECONDS``. Whatever the read cache's
setting: kept exact by the reset, which deletes the entry after its commit. With the in-process
cache and several processes, another process may accept an old token until its entry expires;
with Redis every node sees the reset at once.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from agora.identity.models import User
from agora.platform.cache import Cache
from agora.platform.db import SessionFactory
from agora.platform.errors import Unauthorized

_NEVER = b"-"  # cached for a user whose tokens were never revoked


def _key(user_id: int) -> str:
    return f"identity:tokens-valid-after:{user_id}"


async def tokens_valid_after(
    *, sessions: SessionFactory, cache: Cache, ttl_seconds: int, user_id: int
) -> float | None:
    """Unix seconds before which the user's tokens are refused; None when there is no such moment
    (or no such user: the routes that load the user refuse its tokens themselves)."""
    key = _key(user_id)
    if (cached := await cache.get(key)) is not None:
        return None if cached == _NEVER else float(cached)
    async with sessions() as session:
        moment: datetime | None = await session.scalar(
            select(User.tokens_valid_after).where(User.id == user_id)
        )
    valid_after = None if moment is None else moment.timestamp()
    value = _NEVER if valid_after is None else repr(valid_after).encode()
    await cache.set(key, value, ttl_seconds=ttl_seconds)
    return valid_after


async def check_not_revoked(
    *, sessions: SessionFactory, cache: Cache, ttl_seconds: int, user_id: int, issued_at: float
) -> None:
    valid_after = await tokens_valid_after(
        sessions=sessions, cache=cache, ttl_seconds=ttl_seconds, user_id=user_id
    )
    if valid_after is not None and issued_at < valid_after:
        raise Unauthorized("has been revoked; sign in again", field="token")


async def tokens_revoked(cache: Cache, user_id: int) -> None:
    """After the commit that moved ``tokens_valid_after``."""
    await cache.delete(_key(user_id))
