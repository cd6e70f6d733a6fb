"""Access tokens a password reset revoked: those issued before ``users.tokens_valid_after``.

Checked on every signed-in request and every chat connection, so the moment is read from the cache
(the in-process one: a dictionary lookup; Redis: one short MGET) and from the database only on a
miss: a user's first signed-in request, then once per ``AGORA_TOKEN_CHECK_CACHE_SECONDS``.
Whatever the read cache's setting: kept exact by the reset, which deletes the entry after its
commit. With the in-process cache and several processes, another process may accept an old token
until its entry expires; with Redis every node sees the reset at once.

The checks that start in the same turn of the event loop are answered together (``Batched``):
one MGET for all of them, one ``SELECT … WHERE id IN (…)`` for the misses, one pipelined write
back. A node that many clients reconnect to at once (another node died, or was restarted) pays
a few round trips per loop turn instead of up to three per connection.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select

from agora.identity.models import User
from agora.platform.batching import Batched
from agora.platform.cache import Cache
from agora.platform.db import SessionFactory
from agora.platform.errors import Unauthorized

_NEVER = b"-"  # cached for a user whose tokens were never revoked


def _key(user_id: int) -> str:
    return f"identity:tokens-valid-after:{user_id}"


def _decoded(cached: bytes) -> float | None:
    return None if cached == _NEVER else float(cached)


def _encoded(valid_after: float | None) -> bytes:
    return _NEVER if valid_after is None else repr(valid_after).encode()


class TokenValidity:
    """When each user's tokens were last revoked, read in batches; one per process."""

    def __init__(self, *, sessions: SessionFactory, cache: Cache, ttl_seconds: int) -> None:
        self._sessions = sessions
        self._cache = cache
        self._ttl_seconds = ttl_seconds
        self._batched: Batched[int, float | None] = Batched(self._load_many)

    async def valid_after(self, user_id: int) -> float | None:
        """Unix seconds before which the user's tokens are refused; None when there is no such
        moment (or no such user: the routes that load the user refuse its tokens themselves)."""
        return await self._batched.load(user_id)

    async def check_not_revoked(self, user_id: int, *, issued_at: float) -> None:
        valid_after = await self.valid_after(user_id)
        if valid_after is not None and issued_at < valid_after:
            raise Unauthorized("has been revoked; sign in again", field="token")

    async def _load_many(self, user_ids: list[int]) -> list[float | None]:
        cached = await self._cache.get_many(*(_key(user_id) for user_id in user_ids))
        known = {
            user_id: _decoded(value)
            for user_id, value in zip(user_ids, cached, strict=True)
            if value is not None
        }
        missing = sorted({user_id for user_id in user_ids if user_id not in known})
        if missing:
            read = await self._read(missing)
            await self._cache.set_many(
                {_key(user_id): _encoded(read[user_id]) for user_id in missing},
                ttl_seconds=self._ttl_seconds,
            )
            known.update(read)
        return [known[user_id] for user_id in user_ids]

    async def _read(self, user_ids: Sequence[int]) -> dict[int, float | None]:
        async with self._sessions() as session:
            rows = await session.execute(
                select(User.id, User.tokens_valid_after).where(User.id.in_(user_ids))
            )
        moments: dict[int, datetime | None] = dict(rows.all())
        return {
            user_id: None if (moment := moments.get(user_id)) is None else moment.timestamp()
            for user_id in user_ids
        }


async def tokens_revoked(cache: Cache, user_id: int) -> None:
    """After the commit that moved ``tokens_valid_after``."""
    await cache.delete(_key(user_id))
