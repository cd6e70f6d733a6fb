"""The chat's services as the gateway uses them: the rooms' logs (``backend.RoomLogs``), the
calls that change a room (each in a unit of work of its own, answered after the commit), and the
handlers of the chat's events that publish them to every node."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import select

from agora.chat import history, log, messages
from agora.chat.access import require_member
from agora.chat.events import ReadMarked, RoomEventCommitted
from agora.chat.gateway.backend import LogEvent
from agora.chat.gateway.hub import Committed, Hub
from agora.chat.gateway.rpc import notification_frame, notification_text
from agora.chat.messages import SendLimits
from agora.chat.models import EventKind, Member, Room
from agora.chat.reads import ChatReads
from agora.chat.send_queue import SendQueue
from agora.platform.batching import Batched
from agora.platform.db import SessionFactory
from agora.platform.errors import Forbidden, NotFound
from agora.platform.events import EventHandlers
from agora.platform.uow import UnitsOfWork

# the events after which the member they name no longer watches the room
_ENDS_MEMBERSHIP = frozenset({EventKind.MEMBER_LEFT.value, EventKind.MEMBER_REMOVED.value})


def _log_event(wire: dict[str, Any]) -> LogEvent:
    return LogEvent(room_id=wire["room"], seq=wire["seq"], kind=wire["kind"], wire=wire)


_NO_ROOM = -1  # a head no room has: the room does not exist
_NOT_MEMBER = -2  # the room exists; the user is not a member


class ChatRoomLogs:
    """``RoomLogs`` on the chat's tables, read without a transaction."""

    page_max = log.REPLAY_MAX

    def __init__(self, *, sessions: SessionFactory, reads: ChatReads) -> None:
        self._sessions = sessions
        self._reads = reads
        self._heads: Batched[tuple[int, int], int] = Batched(self._heads_of)

    async def open_room(self, *, user_id: int, room_id: int) -> int:
        # every subscribe asks: the room's head and the membership; a reconnect storm is
        # thousands at once, so the subscribes of one turn of the loop ask in one statement
        head = await self._heads.load((room_id, user_id))
        if head == _NO_ROOM:
            raise NotFound("not found", field="room")
        if head == _NOT_MEMBER:
            raise Forbidden("is not one of your rooms", field="room")
        return head

    async def _heads_of(self, pairs: list[tuple[int, int]]) -> list[int]:
        heads, members = await self._reads.heads_and_members(pairs)

        def head(pair: tuple[int, int]) -> int:
            if pair[0] not in heads:
                return _NO_ROOM
            return heads[pair[0]] if pair in members else _NOT_MEMBER

        return [head(pair) for pair in pairs]

    async def frames_after(
        self, *, user_id: int, room_id: int, after: int, limit: int
    ) -> Sequence[tuple[int, str]]:
        page = await self._reads.wire_texts_after(room_id, after, min(limit, log.REPLAY_MAX))
        return [(seq, notification_text(kind, text)) for seq, kind, text in page]

    async def rooms_of(self, user_ids: Sequence[int]) -> Mapping[int, Sequence[int]]:
        return await self._reads.rooms_of_users(user_ids)

    async def members_of(self, *, user_id: int, room_id: int) -> Sequence[int]:
        async with self._sessions() as session:
            if await session.scalar(select(Room.id).where(Room.id == room_id)) is None:
                raise NotFound("not found", field="room")
            await require_member(session, room_id, user_id)
            members = await session.scalars(
                select(Member.user_id).where(Member.room_id == room_id).order_by(Member.user_id)
            )
            return list(members)


class ChatCalls:
    """The calls that change a room: one unit of work each, committed before the answer."""

    def __init__(
        self,
        *,
        units_of_work: UnitsOfWork,
        sessions: SessionFactory,
        limits: SendLimits,
        sends: SendQueue,
    ) -> None:
        self._units = units_of_work
        self._sessions = sessions
        self._limits = limits
        self._sends = sends

    async def send(self, *, user_id: int, room_id: int, body: str, client_id: str) -> Any:
        return await self._sends.send(
            user_id=user_id, room_id=room_id, body=body, client_id=client_id
        )

    async def edit(self, *, user_id: int, room_id: int, message_id: int, body: str) -> Any:
        async with self._units() as uow:
            return await messages.edit(
                uow=uow,
                limits=self._limits,
                user_id=user_id,
                room_id=room_id,
                message_id=message_id,
                body=body,
            )

    async def delete(self, *, user_id: int, room_id: int, message_id: int) -> Any:
        async with self._units() as uow:
            return await messages.delete_message(
                uow=uow, user_id=user_id, room_id=room_id, message_id=message_id
            )

    async def react(
        self, *, add: bool, user_id: int, room_id: int, message_id: int, emoji: str
    ) -> Any:
        change = messages.react if add else messages.unreact
        async with self._units() as uow:
            return await change(
                uow=uow, user_id=user_id, room_id=room_id, message_id=message_id, emoji=emoji
            )

    async def mark_read(self, *, user_id: int, room_id: int, seq: int) -> Any:
        async with self._units() as uow:
            mark = await messages.mark_read(uow=uow, user_id=user_id, room_id=room_id, seq=seq)
        return mark.model_dump(mode="json", by_alias=True)

    async def history(
        self, *, user_id: int, room_id: int, before: int | None, after: int | None, limit: int
    ) -> Any:
        async with self._sessions() as session:
            return await history.history(
                session=session,
                user_id=user_id,
                room_id=room_id,
                before=before,
                after=after,
                limit=limit,
            )


def register_event_handlers(events: EventHandlers, hub: Hub) -> None:
    """After each commit: the chat's events to every node's subscribers."""

    def published(event: RoomEventCommitted) -> Committed:
        ends = event.event["member"]["id"] if event.kind in _ENDS_MEMBERSHIP else None
        actor = event.event.get("actor")
        return Committed(
            event.room_id,
            notification_frame(event.kind, event.json),
            event.seq,
            ends,
            actor["id"] if actor else None,
        )

    async def room_events(committed: Sequence[RoomEventCommitted]) -> None:
        await hub.publish_frames([published(event) for event in committed])

    async def read(event: ReadMarked) -> None:
        await hub.publish_ephemeral(
            event.room_id,
            "read",
            {"room": event.room_id, "user": event.user_id, "seq": event.seq},
            actor=event.user_id,
        )
        await hub.publish_to_user(
            event.user_id,
            "unread",
            {"room": event.room_id, "lastReadSeq": event.seq, "unread": event.unread},
        )

    events.on_many(RoomEventCommitted, room_events)
    events.on(ReadMarked, read)
