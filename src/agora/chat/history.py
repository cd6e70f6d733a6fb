"""Reading a room: its history by sequence number, and its messages by text. Members only."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from agora.chat import log
from agora.chat.access import require_member
from agora.chat.models import Message, Room
from agora.chat.schemas import MessageSummary
from agora.chat.views import like_pattern, summary, with_authors
from agora.platform.errors import NotFound

SEARCH_MAX = 50


async def _last_seq(session: AsyncSession, room_id: int, user_id: int) -> int:
    last_seq = await session.scalar(select(Room.last_seq).where(Room.id == room_id))
    if last_seq is None:
        raise NotFound("not found", field="room")
    await require_member(session, room_id, user_id)
    return last_seq


async def history(
    *,
    session: AsyncSession,
    user_id: int,
    room_id: int,
    before: int | None = None,
    after: int | None = None,
    limit: int = 50,
) -> dict[str, Any]:
    """A page of the room's events, oldest first, with the room's latest sequence number.

    ``after`` alone: the first ``limit`` events after it (catching up, forwards). Otherwise the
    last ``limit`` events before ``before`` (all when absent) and after ``after`` (scrolling
    back). A client has everything once it has seen ``lastSeq``.
    """
    last_seq = await _last_seq(session, room_id, user_id)
    if after is not None and before is None:
        events = await log.events_after(session, room_id, after, limit)
    else:
        events = await log.events_before(session, room_id, before, limit, after or 0)
    return {"events": events, "lastSeq": last_seq}


async def search(
    *, session: AsyncSession, user_id: int, room_id: int, text: str, limit: int = 20
) -> list[MessageSummary]:
    """The room's messages containing ``text`` (any case), newest first; deleted ones never.
    A substring match (LIKE): no index helps it, which is fine for a room's own messages."""
    await _last_seq(session, room_id, user_id)
    matches = and_(
        Message.room_id == room_id,
        Message.deleted_at.is_(None),
        Message.body.ilike(like_pattern(text), escape="\\"),
    )
    rows = await session.execute(
        with_authors(matches).order_by(Message.seq.desc()).limit(max(1, min(limit, SEARCH_MAX)))
    )
    return [summary(message, username) for message, username in rows]
