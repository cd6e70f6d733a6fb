"""Messages: send (idempotent by client message id), edit, delete, react, and reading marks.

Rules: only members write to a room. Authors edit their own messages; authors, owners and admins
delete them. In a direct conversation nobody sends while either has blocked the other. Each
user's sends are limited (``AGORA_CHAT_SEND_RATE``) over all their rooms, and a message's length
(``AGORA_CHAT_MAX_MESSAGE_CHARS``).

**Idempotent sends.** A client names each message (``client_id``). Sending the same name to the
same room again, a retry after a lost answer, returns the first message's event (same ``seq``)
and makes no second message, also when both arrive at once (``sends.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import (
    delete,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from agora.chat import log
from agora.chat.access import MANAGERS, Membership, require_member
from agora.chat.events import ReadMarked
from agora.chat.models import EventKind, Member, Message, Reaction, Room
from agora.chat.schemas import ReadMark, WireEvent
from agora.chat.sends import Send, write_sends
from agora.chat.views import unread
from agora.platform.db import dialect_insert, utcnow
from agora.platform.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from agora.platform.ratelimit import RateLimiter
from agora.platform.uow import UnitOfWork
from agora.settings import ChatSettings


@dataclass(frozen=True, slots=True)
class SendLimits:
    """The moderation limits on writing messages, bound once from settings."""

    limiter: RateLimiter
    rate: str
    max_chars: int

    @classmethod
    def of(cls, limiter: RateLimiter, settings: ChatSettings) -> SendLimits:
        return cls(limiter, settings.send_rate, settings.max_message_chars)

    def check_length(self, body: str) -> None:
        if len(body) > self.max_chars:
            raise Invalid(f"is too long (maximum is {self.max_chars} characters)", field="body")

    async def check(self, user_id: int, body: str) -> None:
        self.check_length(body)
        await self.limiter.hit(self.rate, "chat-send", str(user_id))


async def send(
    *,
    uow: UnitOfWork,
    limits: SendLimits,
    user_id: int,
    room_id: int,
    body: str,
    client_id: str,
) -> WireEvent:
    """One message, committed (``sends.py`` says how); the same ``client_id`` again returns the
    first one's event. Under load the gateway and the routes batch sends (``SendQueue``)."""
    await limits.check(user_id, body)
    (outcome,) = await write_sends(uow, [Send(user_id, room_id, body, client_id)])
    if isinstance(outcome, DomainError):
        raise outcome
    return outcome


async def _record(
    uow: UnitOfWork, kind: EventKind, me: Membership, message: Message, seq: int
) -> WireEvent:
    return await log.record(
        uow,
        room_id=message.room_id,
        seq=seq,
        kind=kind,
        actor_id=me.user_id,
        message_id=message.id,
        data={
            "actor": log.user_ref(me.user_id, me.username),
            "message": log.message_state(message),
        },
    )


async def _live_message(session: AsyncSession, room_id: int, message_id: int) -> Message:
    message = await session.scalar(
        select(Message)
        .where(Message.id == message_id, Message.room_id == room_id)
        .execution_options(populate_existing=True)
    )
    if message is None or message.deleted_at is not None:
        raise NotFound("not found", field="message")
    return message


async def edit(
    *,
    uow: UnitOfWork,
    limits: SendLimits,
    user_id: int,
    room_id: int,
    message_id: int,
    body: str,
) -> WireEvent:
    limits.check_length(body)
    session = uow.session
    seq, _ = await log.next_seq(session, room_id)
    me = await require_member(session, room_id, user_id)
    message = await _live_message(session, room_id, message_id)
    if message.author_id != user_id:
        raise Forbidden("is not yours to edit", field="message")
    message.body = body
    message.edited_at = utcnow()
    await session.flush()
    event = await _record(uow, EventKind.EDIT, me, message, seq)
    await uow.commit()
    return event


async def delete_message(
    *, uow: UnitOfWork, user_id: int, room_id: int, message_id: int
) -> WireEvent:
    session = uow.session
    seq, _ = await log.next_seq(session, room_id)
    me = await require_member(session, room_id, user_id)
    message = await _live_message(session, room_id, message_id)
    if message.author_id != user_id and me.role not in MANAGERS:
        raise Forbidden("is not yours to delete", field="message")
    # the text goes; the row stays, for the events that refer to it
    message.body = ""
    message.deleted_at = utcnow()
    await session.flush()
    event = await _record(uow, EventKind.DELETE, me, message, seq)
    await uow.commit()
    return event


async def _add_reaction(session: AsyncSession, message_id: int, user_id: int, emoji: str) -> bool:
    added = await session.scalar(
        dialect_insert(session)(Reaction)
        .values(message_id=message_id, user_id=user_id, emoji=emoji, created_at=utcnow())
        .on_conflict_do_nothing()
        .returning(Reaction.message_id)
    )
    return added is not None


async def _remove_reaction(
    session: AsyncSession, message_id: int, user_id: int, emoji: str
) -> bool:
    removed = await session.execute(
        delete(Reaction).where(
            Reaction.message_id == message_id,
            Reaction.user_id == user_id,
            Reaction.emoji == emoji,
        )
    )
    return bool(removed.rowcount)  # type: ignore[attr-defined]


async def _react(
    uow: UnitOfWork, *, add: bool, user_id: int, room_id: int, message_id: int, emoji: str
) -> WireEvent | None:
    session = uow.session
    seq, _ = await log.next_seq(session, room_id)
    me = await require_member(session, room_id, user_id)
    await _live_message(session, room_id, message_id)
    change = _add_reaction if add else _remove_reaction
    if not await change(session, message_id, user_id, emoji):
        await uow.rollback()  # nothing changed: no event, the number goes back
        return None
    event = await log.record(
        uow,
        room_id=room_id,
        seq=seq,
        kind=EventKind.REACTION if add else EventKind.UNREACTION,
        actor_id=user_id,
        message_id=message_id,
        data={
            "actor": log.user_ref(user_id, me.username),
            "messageId": message_id,
            "emoji": emoji,
        },
    )
    await uow.commit()
    return event


async def react(
    *, uow: UnitOfWork, user_id: int, room_id: int, message_id: int, emoji: str
) -> WireEvent | None:
    """Adds the user's ``emoji`` to the message; None when it was there already."""
    return await _react(
        uow, add=True, user_id=user_id, room_id=room_id, message_id=message_id, emoji=emoji
    )


async def unreact(
    *, uow: UnitOfWork, user_id: int, room_id: int, message_id: int, emoji: str
) -> WireEvent | None:
    """Takes the user's ``emoji`` off the message; None when it was not there."""
    return await _react(
        uow, add=False, user_id=user_id, room_id=room_id, message_id=message_id, emoji=emoji
    )


async def mark_read(*, uow: UnitOfWork, user_id: int, room_id: int, seq: int) -> ReadMark:
    """Moves the user's reading mark forward to ``seq`` (never back) and says what is unread."""
    session = uow.session
    last_seq = await session.scalar(select(Room.last_seq).where(Room.id == room_id))
    if last_seq is None:
        raise NotFound("not found", field="room")
    await require_member(session, room_id, user_id)
    if seq > last_seq:
        raise Conflict(f"is past the room's last event ({last_seq})", field="seq")
    moved = await session.execute(
        update(Member)
        .where(Member.room_id == room_id, Member.user_id == user_id, Member.last_read_seq < seq)
        .values(last_read_seq=seq)
    )
    mark = await session.scalar(
        select(Member.last_read_seq).where(Member.room_id == room_id, Member.user_id == user_id)
    )
    assert mark is not None
    count = await unread(session, room_id, user_id)
    if moved.rowcount:  # type: ignore[attr-defined]
        uow.emit(ReadMarked(room_id=room_id, user_id=user_id, seq=mark, unread=count))
    await uow.commit()
    return ReadMark(room=room_id, lastReadSeq=mark, unread=count)
