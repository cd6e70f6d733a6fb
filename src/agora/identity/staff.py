"""The staff role: users who may manage the shop. Granted and revoked by an operator (the command
line), checked by ``deps.require_staff`` on every staff route."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from agora.identity.models import User
from agora.platform.db import Database
from agora.platform.errors import Forbidden, Unauthorized


async def set_staff(db: Database, *, email: str, staff: bool) -> bool:
    """Grants (or revokes) the role of the account with this address; False when there is none.
    One statement, so it needs no transaction around it."""
    async with db.autocommit_connection() as connection:
        result = await connection.execute(
            update(User).where(User.email == email.strip().lower()).values(is_staff=staff)
        )
    return bool(result.rowcount)


async def check_staff(session: AsyncSession, *, user_id: int) -> None:
    """Raises unless ``user_id`` is a staff member: 401 for an account gone, 403 for a customer."""
    is_staff = await session.scalar(select(User.is_staff).where(User.id == user_id))
    if is_staff is None:
        # a valid signature for a user who no longer exists
        raise Unauthorized("is invalid", field="token")
    if not is_staff:
        raise Forbidden("is for staff only", field="user")
