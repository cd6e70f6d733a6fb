"""The chat's services as the gateway needs them (``backend.RoomLogs``)."""

from __future__ import annotations

from collections.abc import Sequence

from agora.chat.gateway.backend import LogEvent
from agora.platform.errors import NotFound


class DomainRoomLogs:
    """Until the chat's services arrive: no room exists."""

    async def open_room(self, *, user_id: int, room_id: int) -> int:
        raise NotFound("not found", field="room")

    async def events_after(
        self, *, user_id: int, room_id: int, after: int, limit: int
    ) -> Sequence[LogEvent]:
        return []

    async def rooms_of(self, user_id: int) -> Sequence[int]:
        return []
