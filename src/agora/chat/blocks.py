"""Blocking a user: neither may open or write to a direct conversation with the other."""

from __future__ import annotations

from sqlalchemy import delete

from agora.chat.access import user_named
from agora.chat.models import Block
from agora.chat.schemas import BlockOut
from agora.platform.db import dialect_insert, utcnow
from agora.platform.errors import Forbidden
from agora.platform.uow import UnitOfWork


async def block(*, uow: UnitOfWork, user_id: int, username: str) -> BlockOut:
    """Blocks ``username``; blocking twice blocks once."""
    session = uow.session
    other, name = await user_named(session, username)
    if other == user_id:
        raise Forbidden("is you", field="username")
    await session.execute(
        dialect_insert(session)(Block)
        .values(blocker_id=user_id, blocked_id=other, created_at=utcnow())
        .on_conflict_do_nothing()
    )
    await uow.commit()
    return BlockOut(username=name, blocked=True)


async def unblock(*, uow: UnitOfWork, user_id: int, username: str) -> BlockOut:
    session = uow.session
    other, name = await user_named(session, username)
    await session.execute(
        delete(Block).where(Block.blocker_id == user_id, Block.blocked_id == other)
    )
    await uow.commit()
    return BlockOut(username=name, blocked=False)
