"""Holding catalog rows until the commit, the same way on both databases.

A write that reads, decides and then writes (a price range from its variants, a path from its
parent) must not decide on what another writer is changing at that moment. PostgreSQL locks the
rows (``SELECT … FOR UPDATE``, in id order, so two writers never wait for each other in a
circle); SQLite has one writer, and a write that changes nothing takes its lock (a
transaction's reads before its first write see other writers' commits, ``platform/sqlite_writes``).
Statements after the lock see everything committed before it.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from agora.platform.db import Base, on_postgresql


async def lock(session: AsyncSession, model: type[Base], where: ColumnElement[bool]) -> None:
    """Holds the rows of ``model`` that ``where`` selects until the unit of work ends."""
    key = model.__table__.primary_key.columns.values()[0]  # type: ignore[attr-defined]
    if on_postgresql(session):
        await session.execute(select(key).where(where).order_by(key).with_for_update())
    else:
        await session.execute(
            update(model)
            .where(where)
            .values({key: key})
            .execution_options(synchronize_session=False)
        )
