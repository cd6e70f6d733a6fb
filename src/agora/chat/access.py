"""Who may do what in a room: the membership every rule checks first, and users by name."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from agora.chat.models import Block, Member, Role
from agora.identity.models import User
from agora.platform.errors import Forbidden, NotFound, Unauthorized

MANAGERS = frozenset({Role.OWNER, Role.ADMIN})


@dataclass(frozen=True, slots=True)
class Membership:
    user_id: int
    username: str
    role: Role
    last_read_seq: int


async def membership(session: AsyncSession, room_id: int, user_id: int) -> Membership | None:
    row = (
        await session.execute(
            select(User.username, Member.role, Member.last_read_seq)
            .join(User, User.id == Member.user_id)
            .where(Member.room_id == room_id, Member.user_id == user_id)
        )
    ).first()
    if row is None:
        return None
    return Membership(user_id, row.username, Role(row.role), row.last_read_seq)


async def require_member(session: AsyncSession, room_id: int, user_id: int) -> Membership:
    found = await membership(session, room_id, user_id)
    if found is None:
        raise Forbidden("is not one of your rooms", field="room")
    return found


async def require_user(session: AsyncSession, user_id: int) -> tuple[int, str]:
    """The signed-in user's id and name (a valid token for an account since deleted: 401)."""
    username = await session.scalar(select(User.username).where(User.id == user_id))
    if username is None:
        raise Unauthorized("is invalid", field="token")
    return user_id, username


async def user_named(session: AsyncSession, username: str) -> tuple[int, str]:
    row = (
        await session.execute(select(User.id, User.username).where(User.username == username))
    ).first()
    if row is None:
        raise NotFound("not found", field="username")
    return row.id, row.username


async def blocked_between(session: AsyncSession, one: int, other: int) -> bool:
    """Whether either of the two blocked the other."""
    either = or_(
        (Block.blocker_id == one) & (Block.blocked_id == other),
        (Block.blocker_id == other) & (Block.blocked_id == one),
    )
    return bool(await session.scalar(select(exists().where(either))))
