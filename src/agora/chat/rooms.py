"""Rooms and who is in them: create, join, leave, invite, remove, change a role, and the one
direct conversation of two users. One commit per call; every change is an event of the room's log.

Rules:

- **public** rooms: anyone may join; any member may invite. **private** rooms: by invitation of
  an owner or an admin. **direct** conversations: exactly two members, opened with
  ``open_direct``; nobody joins, leaves, is invited or changes role there (block instead).
- **Roles.** The creator is the owner. Only an owner changes roles (there may be several
  owners). Owners and admins remove members; an admin removes only plain members. The last owner
  cannot leave while others remain (hand the room over first), nor make themself less.
- Each write takes the room's next sequence number first (``log.next_seq``): the room's row is
  locked until the commit, so the checks below and the change see one settled membership.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from agora.chat import log
from agora.chat.access import (
    MANAGERS,
    Membership,
    blocked_between,
    membership,
    require_member,
    require_user,
    user_named,
)
from agora.chat.models import DirectPair, EventKind, Member, Role, Room, RoomKind
from agora.chat.schemas import RoomDetail, WireEvent
from agora.chat.views import room_detail
from agora.platform.db import dialect_insert, utcnow
from agora.platform.errors import Conflict, Forbidden, Invalid, NotFound
from agora.platform.uow import UnitOfWork


def _not_direct(kind: str) -> None:
    if kind == RoomKind.DIRECT:
        raise Forbidden("is a direct conversation: it has two members, no roles", field="room")


async def _member_event(
    uow: UnitOfWork,
    room_id: int,
    seq: int,
    kind: EventKind,
    *,
    actor: tuple[int, str],
    member: tuple[int, str],
    role: Role | None = None,
) -> WireEvent:
    data: dict[str, Any] = {"actor": log.user_ref(*actor), "member": log.user_ref(*member)}
    if role is not None:
        data["role"] = role.value
    return await log.record(uow, room_id=room_id, seq=seq, kind=kind, actor_id=actor[0], data=data)


async def _add_member(
    uow: UnitOfWork,
    room_id: int,
    *,
    member: tuple[int, str],
    actor: tuple[int, str],
    role: Role = Role.MEMBER,
    seq: int | None = None,
) -> WireEvent:
    if seq is None:
        seq, _ = await log.next_seq(uow.session, room_id)
    uow.session.add(Member(room_id=room_id, user_id=member[0], role=role, joined_at=utcnow()))
    await uow.session.flush()
    return await _member_event(
        uow, room_id, seq, EventKind.MEMBER_JOINED, actor=actor, member=member, role=role
    )


async def _owners_besides(session: AsyncSession, room_id: int, user_id: int) -> int:
    count = await session.scalar(
        select(func.count()).where(
            Member.room_id == room_id, Member.role == Role.OWNER, Member.user_id != user_id
        )
    )
    return count or 0


async def _members_besides(session: AsyncSession, room_id: int, user_id: int) -> int:
    count = await session.scalar(
        select(func.count()).where(Member.room_id == room_id, Member.user_id != user_id)
    )
    return count or 0


async def create_room(
    *, uow: UnitOfWork, owner_id: int, name: str, kind: RoomKind, topic: str = ""
) -> RoomDetail:
    if kind == RoomKind.DIRECT:
        raise Invalid(
            "must be public or private (open a direct conversation instead)", field="kind"
        )
    session = uow.session
    room = Room(kind=kind.value, name=name, topic=topic, last_seq=0, created_at=utcnow())
    session.add(room)
    await session.flush()
    owner = await require_user(session, owner_id)
    await _add_member(uow, room.id, member=owner, actor=owner, role=Role.OWNER)
    await uow.commit()
    return await room_detail(session=session, user_id=owner_id, room_id=room.id)


async def join(*, uow: UnitOfWork, user_id: int, room_id: int) -> RoomDetail:
    """Joins a public room; joining a room you are in already changes nothing."""
    session = uow.session
    seq, kind = await log.next_seq(session, room_id)
    if await session.scalar(
        select(Member.user_id).where(Member.room_id == room_id, Member.user_id == user_id)
    ):
        await uow.rollback()
    else:
        if kind != RoomKind.PUBLIC:
            raise Forbidden("is not public: ask a member for an invitation", field="room")
        user = await require_user(session, user_id)
        await _add_member(uow, room_id, member=user, actor=user, seq=seq)
        await uow.commit()
    return await room_detail(session=session, user_id=user_id, room_id=room_id)


async def leave(*, uow: UnitOfWork, user_id: int, room_id: int) -> WireEvent:
    session = uow.session
    seq, kind = await log.next_seq(session, room_id)
    me = await require_member(session, room_id, user_id)
    if kind == RoomKind.DIRECT:
        raise Forbidden("is a direct conversation: block the user instead of leaving", field="room")
    if (
        me.role == Role.OWNER
        and not await _owners_besides(session, room_id, user_id)
        and await _members_besides(session, room_id, user_id)
    ):
        raise Conflict("needs another owner before its last owner leaves", field="room")
    await session.execute(
        delete(Member).where(Member.room_id == room_id, Member.user_id == user_id)
    )
    me_ref = (user_id, me.username)
    event = await _member_event(
        uow, room_id, seq, EventKind.MEMBER_LEFT, actor=me_ref, member=me_ref
    )
    await uow.commit()
    return event


async def invite(*, uow: UnitOfWork, user_id: int, room_id: int, username: str) -> WireEvent:
    session = uow.session
    guest = await user_named(session, username)
    seq, kind = await log.next_seq(session, room_id)
    me = await require_member(session, room_id, user_id)
    _not_direct(kind)
    if kind == RoomKind.PRIVATE and me.role not in MANAGERS:
        raise Forbidden("is private: only its owners and admins invite", field="room")
    if await session.scalar(
        select(Member.user_id).where(Member.room_id == room_id, Member.user_id == guest[0])
    ):
        raise Conflict("is a member already", field="username")
    event = await _add_member(uow, room_id, member=guest, actor=(user_id, me.username), seq=seq)
    await uow.commit()
    return event


async def _target(session: AsyncSession, room_id: int, member_id: int) -> Membership:
    found = await membership(session, room_id, member_id)
    if found is None:
        raise NotFound("not found", field="member")
    return found


async def remove_member(
    *, uow: UnitOfWork, user_id: int, room_id: int, member_id: int
) -> WireEvent:
    session = uow.session
    seq, kind = await log.next_seq(session, room_id)
    me = await require_member(session, room_id, user_id)
    _not_direct(kind)
    if member_id == user_id:
        raise Forbidden("is you: leave the room instead", field="member")
    target = await _target(session, room_id, member_id)
    if me.role not in MANAGERS or (me.role == Role.ADMIN and target.role in MANAGERS):
        raise Forbidden("may not be removed by you", field="member")
    await session.execute(
        delete(Member).where(Member.room_id == room_id, Member.user_id == member_id)
    )
    event = await _member_event(
        uow,
        room_id,
        seq,
        EventKind.MEMBER_REMOVED,
        actor=(user_id, me.username),
        member=(member_id, target.username),
    )
    await uow.commit()
    return event


async def change_role(
    *, uow: UnitOfWork, user_id: int, room_id: int, member_id: int, role: Role
) -> WireEvent | None:
    """Only an owner changes roles; None when the member has that role already."""
    session = uow.session
    seq, kind = await log.next_seq(session, room_id)
    me = await require_member(session, room_id, user_id)
    _not_direct(kind)
    if me.role != Role.OWNER:
        raise Forbidden("only an owner changes roles", field="role")
    target = await _target(session, room_id, member_id)
    if target.role == role:
        await uow.rollback()
        return None
    if member_id == user_id and not await _owners_besides(session, room_id, user_id):
        raise Conflict("needs another owner before its last owner steps down", field="room")
    await session.execute(
        update(Member)
        .where(Member.room_id == room_id, Member.user_id == member_id)
        .values(role=role.value)
    )
    event = await _member_event(
        uow,
        room_id,
        seq,
        EventKind.ROLE_CHANGED,
        actor=(user_id, me.username),
        member=(member_id, target.username),
        role=role,
    )
    await uow.commit()
    return event


# --- direct conversations ---------------------------------------------------------------------


async def _pair_room(session: AsyncSession, low: int, high: int) -> int | None:
    return await session.scalar(
        select(DirectPair.room_id).where(DirectPair.user_low == low, DirectPair.user_high == high)
    )


async def open_direct(*, uow: UnitOfWork, user_id: int, username: str) -> RoomDetail:
    """The one conversation of the two users: made the first time, found every other time, also
    when both open it at the same moment. Refused when either has blocked the other."""
    session = uow.session
    other = await user_named(session, username)
    if other[0] == user_id:
        raise Forbidden("is you: a conversation needs two", field="username")
    if await blocked_between(session, user_id, other[0]):
        raise Forbidden("is blocked, or has blocked you", field="username")
    low, high = sorted((user_id, other[0]))
    room_id = await _pair_room(session, low, high)
    if room_id is None:
        room_id = await _create_direct(uow, user_id, other, low, high)
    return await room_detail(session=session, user_id=user_id, room_id=room_id)


async def _create_direct(
    uow: UnitOfWork, user_id: int, other: tuple[int, str], low: int, high: int
) -> int:
    session = uow.session
    room = Room(kind=RoomKind.DIRECT.value, name=None, topic="", last_seq=0, created_at=utcnow())
    session.add(room)
    await session.flush()
    # ON CONFLICT: the other side may be opening it at this very moment; theirs stands
    claimed = await session.scalar(
        dialect_insert(session)(DirectPair)
        .values(user_low=low, user_high=high, room_id=room.id)
        .on_conflict_do_nothing()
        .returning(DirectPair.room_id)
    )
    if claimed is None:
        await uow.rollback()
        room_id = await _pair_room(session, low, high)
        assert room_id is not None  # the conflicting pair is committed: we waited for it
        return room_id
    me = await require_user(session, user_id)
    await _add_member(uow, room.id, member=me, actor=me)
    await _add_member(uow, room.id, member=other, actor=me)
    await uow.commit()
    return room.id
