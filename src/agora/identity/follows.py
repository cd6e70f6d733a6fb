"""Follows: the rules, and the one place they meet the database.

The rules take a unit of work and a ``Follows`` repository, both small Protocols. In the
application they run on SQLAlchemy (``SqlFollows``, on the unit of work's session);
``tests/identity/test_follow_rules.py`` runs the same rules on in-memory fakes, with no database
and no app: the habit of *Architecture Patterns with Python*.

Races stay the database's to settle: following twice, even in two requests at once, follows once
(``ON CONFLICT DO NOTHING``), and an account deleted meanwhile is a 404, not a 500.
"""

from __future__ import annotations

from typing import Protocol

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from agora.identity.events import FollowsChanged
from agora.identity.models import Follow, User
from agora.identity.schemas import Profile
from agora.identity.service import profile_of
from agora.platform.db import dialect_insert, utcnow
from agora.platform.errors import Invalid, NotFound
from agora.platform.uow import UnitOfWorkLike


class Follows(Protocol):
    """Who follows whom, as the rules need it."""

    async def user(self, username: str) -> User | None: ...

    async def add(self, *, follower_id: int, followee_id: int) -> bool:
        """Follows, once however often asked; False when the followee's account is gone."""
        ...

    async def remove(self, *, follower_id: int, followee_id: int) -> None: ...


class SqlFollows:
    """``Follows`` in the database, through a unit of work's session (so in its transaction)."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def user(self, username: str) -> User | None:
        return await self._session.scalar(select(User).where(User.username == username))

    async def add(self, *, follower_id: int, followee_id: int) -> bool:
        insert = dialect_insert(self._session)
        try:
            # ON CONFLICT DO NOTHING: following twice, even in two requests at once, follows once
            await self._session.execute(
                insert(Follow)
                .values(follower_id=follower_id, followee_id=followee_id, created_at=utcnow())
                .on_conflict_do_nothing()
            )
        except IntegrityError:
            # a foreign key: the followed account was deleted meanwhile
            return False
        return True

    async def remove(self, *, follower_id: int, followee_id: int) -> None:
        # one statement: unfollowing twice, even at once, deletes once and answers the same
        await self._session.execute(
            delete(Follow).where(
                Follow.follower_id == follower_id, Follow.followee_id == followee_id
            )
        )


async def _followee(follows: Follows, username: str) -> User:
    user = await follows.user(username)
    if user is None:
        raise NotFound("not found", field="profile")
    return user


async def follow(
    *, uow: UnitOfWorkLike, follows: Follows, username: str, follower_id: int
) -> Profile:
    """``follower_id`` follows ``username``; nobody follows themselves."""
    user = await _followee(follows, username)
    if user.id == follower_id:
        raise Invalid("cannot follow yourself", field="profile")
    # read now: the rollback below would expire the loaded user
    profile = profile_of(user, following=True)
    if not await follows.add(follower_id=follower_id, followee_id=user.id):
        await uow.rollback()
        raise NotFound("not found", field="profile")
    uow.emit(FollowsChanged(follower_id))
    await uow.commit()
    return profile


async def unfollow(
    *, uow: UnitOfWorkLike, follows: Follows, username: str, follower_id: int
) -> Profile:
    user = await _followee(follows, username)
    profile = profile_of(user, following=False)
    await follows.remove(follower_id=follower_id, followee_id=user.id)
    uow.emit(FollowsChanged(follower_id))
    await uow.commit()
    return profile
