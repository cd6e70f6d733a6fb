"""The chat's services as the gateway needs them (``backend.RoomLogs``)."""

from __future__ import annotations

from collections.abc import Sequence

from agora.chat.gateway.backend import LogEvent
from agora.platform.errors import NotFound


class DomainRoomLogs:
    """Until the chat's services arrive: no room exists."""

    page_max = 200

    async def open_room(self, *, user_id: int, room_id: int) -> int:
        raise NotFound("not found", field="room")

    async def events_after(
        self, *, user_id: int, room_id: int, after: int, limit: int
    ) -> Sequence[LogEvent]:
        return []

    async def rooms_of(self, user_id: int) -> Sequence[int]:
        return []


class DomainRoomCalls:
    """Until the chat's services arrive: no room exists."""

    async def send(self, *, user_id: int, room_id: int, body: str, client_id: str) -> object:
        raise NotFound("not found", field="room")

    async def edit(self, *, user_id: int, room_id: int, message_id: int, body: str) -> object:
        raise NotFound("not found", field="room")

    async def delete(self, *, user_id: int, room_id: int, message_id: int) -> object:
        raise NotFound("not found", field="room")

    async def react(
        self, *, add: bool, user_id: int, room_id: int, message_id: int, emoji: str
    ) -> object:
        raise NotFound("not found", field="room")

    async def mark_read(self, *, user_id: int, room_id: int, seq: int) -> object:
        raise NotFound("not found", field="room")

    async def history(
        self, *, user_id: int, room_id: int, before: int | None, after: int | None, limit: int
    ) -> object:
        raise NotFound("not found", field="room")
