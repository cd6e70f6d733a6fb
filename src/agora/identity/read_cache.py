"""What other contexts may cache about identity, and the keys that invalidate it.

Lists of articles show each author's profile (username, bio, image) and whether the viewer follows
them. Those caches key their entries by the ``PROFILES`` generation, which identity advances after
any profile change, and read a viewer's followees through ``followee_ids``, which identity forgets
after a follow or unfollow. Identity never needs to know who caches what.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from agora.identity.models import Follow
from agora.platform.cache import Cache, cached_ids, start_generation

PROFILES = "identity:profiles"
# a viewer following more than this is answered from the database on every request
MAX_CACHED_FOLLOWEES = 5_000


def _followees_key(user_id: int) -> str:
    return f"identity:followees:{user_id}"


async def followee_ids(
    *, session: AsyncSession, cache: Cache, ttl_seconds: int, user_id: int
) -> frozenset[int] | None:
    """Whom the user follows, or None when that is too many to keep in the cache."""

    async def load(limit: int) -> list[int]:
        query = select(Follow.followee_id).where(Follow.follower_id == user_id).limit(limit)
        return list(await session.scalars(query))

    return await cached_ids(
        cache,
        _followees_key(user_id),
        ttl_seconds=ttl_seconds,
        load=load,
        limit=MAX_CACHED_FOLLOWEES,
    )


async def follows_changed(cache: Cache, user_id: int) -> None:
    await cache.delete(_followees_key(user_id))


async def profile_changed(cache: Cache) -> None:
    await start_generation(cache, PROFILES)
