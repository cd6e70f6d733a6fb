"""What other contexts may cache about identity, and the keys that invalidate it.

Lists of articles show each author's profile (username, bio, image) and whether the viewer follows
them. Those caches key their entries by the ``PROFILES`` generation, which ends after any profile
change (``ProfileChanged``), and read a viewer's followees through ``followee_ids``, forgotten
after a follow or unfollow (``FollowsChanged``). Identity's rules only emit the events; the
handlers here are registered by the composition root. Identity never needs to know who caches
what.
"""

from __future__ import annotations

from sqlalchemy import select

from agora.identity import token_validity
from agora.identity.events import FollowsChanged, ProfileChanged, TokensRevoked
from agora.identity.models import Follow, User
from agora.identity.schemas import Profile
from agora.platform.cache import Cache, cached_ids, start_generation
from agora.platform.db import SessionFactory
from agora.platform.events import EventHandlers

PROFILES = "identity:profiles"
# a viewer following more than this is answered from the database on every request
MAX_CACHED_FOLLOWEES = 5_000


def _followees_key(user_id: int) -> str:
    return f"identity:followees:{user_id}"


async def followee_ids(
    *, sessions: SessionFactory, cache: Cache, ttl_seconds: int, user_id: int
) -> frozenset[int] | None:
    """Whom the user follows, or None when that is too many to keep in the cache.

    The database is asked (in a session of its own) only when the cache has no answer.
    """

    async def load(limit: int) -> list[int]:
        query = select(Follow.followee_id).where(Follow.follower_id == user_id).limit(limit)
        async with sessions() as session:
            return list(await session.scalars(query))

    return await cached_ids(
        cache,
        _followees_key(user_id),
        ttl_seconds=ttl_seconds,
        load=load,
        limit=MAX_CACHED_FOLLOWEES,
    )


def _profile_key(user_id: int) -> str:
    return f"identity:profile:{user_id}"


async def own_profile(
    *, sessions: SessionFactory, cache: Cache, ttl_seconds: int, user_id: int
) -> Profile | None:
    """The user's public profile as they see it themselves, or None if there is no such user.

    The database is asked (in a session of its own) only when the cache has no answer.
    """
    key = _profile_key(user_id)
    if ttl_seconds > 0 and (cached := await cache.get(key)) is not None:
        return Profile.model_validate_json(cached)
    async with sessions() as session:
        row = (
            await session.execute(
                select(User.username, User.bio, User.image).where(User.id == user_id)
            )
        ).first()
    if row is None:
        return None
    profile = Profile(username=row.username, bio=row.bio, image=row.image, following=False)
    if ttl_seconds > 0:
        await cache.set(key, profile.model_dump_json().encode(), ttl_seconds=ttl_seconds)
    return profile


def register_event_handlers(events: EventHandlers, cache: Cache) -> None:
    """What the cache forgets after identity's writes; called once, by the composition root."""

    async def profile_changed(event: ProfileChanged) -> None:
        await cache.delete(_profile_key(event.user_id))
        await start_generation(cache, PROFILES)

    async def follows_changed(event: FollowsChanged) -> None:
        await cache.delete(_followees_key(event.follower_id))

    async def tokens_revoked(event: TokensRevoked) -> None:
        await token_validity.tokens_revoked(cache, event.user_id)

    events.on(ProfileChanged, profile_changed)
    events.on(FollowsChanged, follows_changed)
    events.on(TokensRevoked, tokens_revoked)
