"""Rooms as a member sees them: one room with its members, and the list of mine, each with its
unread count and last message.

**Unread** counts the room's messages after the member's ``last_read_seq`` that others wrote
and nobody deleted: what a badge should say. Edits, reactions and membership changes are events
too, but not something to read.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import ColumnElement, ScalarSelect, Select, and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from agora.chat.access import require_member
from agora.chat.models import Member, Message, Room, RoomKind
from agora.chat.schemas import (
    MemberOut,
    MessageSummary,
    PublicRoom,
    RoomDetail,
    RoomOut,
    UserRef,
)
from agora.identity.models import User
from agora.platform.errors import NotFound


def unread_count(user_id: int) -> ScalarSelect[int]:
    """A correlated count of the unread messages of ``Member``'s room (see the docstring)."""
    return (
        select(func.count())
        .select_from(Message)
        .where(
            Message.room_id == Member.room_id,
            Message.seq > Member.last_read_seq,
            Message.author_id != user_id,
            Message.deleted_at.is_(None),
        )
        .scalar_subquery()
    )


async def unread(session: AsyncSession, room_id: int, user_id: int) -> int:
    count = await session.scalar(
        select(unread_count(user_id)).where(Member.room_id == room_id, Member.user_id == user_id)
    )
    return count or 0


def _latest(room_ids: Iterable[int]) -> ColumnElement[bool]:
    later = aliased(Message)
    newest = (
        select(func.max(later.seq))
        .where(later.room_id == Message.room_id, later.deleted_at.is_(None))
        .scalar_subquery()
    )
    return and_(Message.room_id.in_(list(room_ids)), Message.seq == newest)


def summary(message: Message, username: str) -> MessageSummary:
    return MessageSummary(
        id=message.id,
        seq=message.seq,
        body=message.body,
        author=UserRef(id=message.author_id, username=username),
        at=message.created_at,
        editedAt=message.edited_at,
    )


def with_authors(where: ColumnElement[bool]) -> Select[Message, str]:
    """Messages and their authors' names; fresh rows even on a session that wrote them."""
    return (
        select(Message, User.username)
        .join(User, User.id == Message.author_id)
        .where(where)
        .execution_options(populate_existing=True)
    )


async def _last_messages(session: AsyncSession, room_ids: list[int]) -> dict[int, MessageSummary]:
    if not room_ids:
        return {}
    rows = await session.execute(with_authors(_latest(room_ids)))
    return {message.room_id: summary(message, username) for message, username in rows}


async def _peers(session: AsyncSession, room_ids: list[int], user_id: int) -> dict[int, UserRef]:
    if not room_ids:
        return {}
    rows = await session.execute(
        select(Member.room_id, User.id, User.username)
        .join(User, User.id == Member.user_id)
        .where(Member.room_id.in_(room_ids), Member.user_id != user_id)
    )
    return {room_id: UserRef(id=uid, username=name) for room_id, uid, name in rows}


async def _rooms(session: AsyncSession, user_id: int, *, only: int | None = None) -> list[RoomOut]:
    query = (
        select(Room, Member.role, Member.last_read_seq, unread_count(user_id))
        .join(Member, Member.room_id == Room.id)
        .where(Member.user_id == user_id)
        # fresh rows even on a unit of work's session that loaded the room before its write
        .execution_options(populate_existing=True)
    )
    if only is not None:
        query = query.where(Room.id == only)
    rows = (await session.execute(query)).all()
    ids = [room.id for room, *_ in rows]
    last = await _last_messages(session, ids)
    peers = await _peers(
        session, [room.id for room, *_ in rows if room.kind == RoomKind.DIRECT], user_id
    )
    rooms = [
        RoomOut(
            id=room.id,
            kind=RoomKind(room.kind),
            name=room.name,
            topic=room.topic,
            createdAt=room.created_at,
            lastSeq=room.last_seq,
            role=role,
            lastReadSeq=last_read,
            unread=count or 0,
            lastMessage=last.get(room.id),
            peer=peers.get(room.id),
        )
        for room, role, last_read, count in rows
    ]
    # the most recently active first
    rooms.sort(
        key=lambda room: (room.last_message.at if room.last_message else room.created_at, room.id),
        reverse=True,
    )
    return rooms


async def my_rooms(*, session: AsyncSession, user_id: int) -> list[RoomOut]:
    return await _rooms(session, user_id)


async def room_detail(*, session: AsyncSession, user_id: int, room_id: int) -> RoomDetail:
    if await session.scalar(select(Room.id).where(Room.id == room_id)) is None:
        raise NotFound("not found", field="room")
    await require_member(session, room_id, user_id)
    (room,) = await _rooms(session, user_id, only=room_id)
    rows = await session.execute(
        select(Member, User.username)
        .join(User, User.id == Member.user_id)
        .where(Member.room_id == room_id)
        .order_by(Member.joined_at, Member.user_id)
        .execution_options(populate_existing=True)
    )
    members = [
        MemberOut(
            id=member.user_id,
            username=username,
            role=member.role,
            lastReadSeq=member.last_read_seq,
            joinedAt=member.joined_at,
        )
        for member, username in rows
    ]
    return RoomDetail.model_validate({**room.model_dump(by_alias=True), "members": members})


async def directory(
    *, session: AsyncSession, user_id: int, text: str | None, after: int, limit: int
) -> list[PublicRoom]:
    """Public rooms by id after ``after`` (keyset), whose name contains ``text`` when given."""
    members = (
        select(func.count()).where(Member.room_id == Room.id).correlate(Room).scalar_subquery()
    )
    mine = (
        select(Member.user_id)
        .where(Member.room_id == Room.id, Member.user_id == user_id)
        .correlate(Room)
        .exists()
    )
    query = (
        select(Room.id, Room.name, Room.topic, Room.last_seq, members, mine)
        .where(Room.kind == RoomKind.PUBLIC, Room.id > after)
        .order_by(Room.id)
        .limit(limit)
    )
    if text:
        query = query.where(Room.name.ilike(like_pattern(text), escape="\\"))
    rows = await session.execute(query)
    return [
        PublicRoom(id=id_, name=name or "", topic=topic, members=count, lastSeq=last, joined=joined)
        for id_, name, topic, last, count, joined in rows
    ]


def like_pattern(text: str) -> str:
    """``text`` anywhere, taken literally: a user's ``%`` and ``_`` are not wildcards."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
