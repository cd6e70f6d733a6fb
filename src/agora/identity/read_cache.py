"""What other contexts may cache about identity, and the keys that invalidate it.

Lists of articles show each author's profile (username, bio, image) and whether the viewer follows
them. Those caches key their entries by the ``PROFILES`` generation, which identity advances after
any profile change, and read a viewer's followees through ``followee_ids``, which identity forgets
after a follow or unfollow. Identity never needs to know who caches what.
"""

from __future__ import annotations

import orjson
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from agora.identity.models import Follow
from agora.platform.cache import Cache, start_generation

PROFILES = "identity:profiles"
# a viewer following more than this is answered from the database on every request
MAX_CACHED_FOLLOWEES = 5_000


def _followees_key(user_id: int) -> str:
    return f"identity:followees:{user_id}"


async def followee_ids(
    *, session: AsyncSession, cache: Cache, ttl_seconds: int, user_id: int
) -> frozenset[int] | None:
    """Whom the user follows, or None when that is too many to keep in the cache."""
    key = _followees_key(user_id)
    if ttl_seconds > 0 and (cached := await cache.get(key)) is not None:
        ids: list[int] = orjson.loads(cached)
        return frozenset(ids)
    rows = await session.scalars(
        select(Follow.followee_id)
        .where(Follow.follower_id == user_id)
        .limit(MAX_CACHED_FOLLOWEES + 1)
    )
    followees = list(rows)
    if len(followees) > MAX_CACHED_FOLLOWEES:
        return None
    if ttl_seconds > 0:
        await cache.set(key, orjson.dumps(followees), ttl_seconds=ttl_seconds)
    return frozenset(followees)


async def follows_changed(cache: Cache, user_id: int) -> None:
    await cache.delete(_followees_key(user_id))


async def profile_changed(cache: Cache) -> None:
    await start_generation(cache, PROFILES)
