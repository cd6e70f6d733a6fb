"""What the gateway needs from the chat's domain: the rooms' event logs and the calls that change
them, in the domain's own words. The composition root hands it an implementation
(``agora.chat.gateway.domain``); tests can hand it another.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class LogEvent:
    """One event of a room's log: its place (``seq``: 1, 2, 3 ... with no gap) and its JSON."""

    room_id: int
    seq: int
    kind: str
    wire: Mapping[str, Any]


class RoomLogs(Protocol):
    # the most events one ``frames_after`` answers
    page_max: int

    async def open_room(self, *, user_id: int, room_id: int) -> int:
        """The room's last sequence number, for a member; ``NotFound``/``Forbidden`` else."""
        ...

    async def frames_after(
        self, *, user_id: int, room_id: int, after: int, limit: int
    ) -> Sequence[tuple[int, str]]:
        """Up to ``limit`` events with a sequence number above ``after``, in order, as (seq,
        the notification's frame): what a replay sends."""
        ...

    async def rooms_of(self, user_ids: Sequence[int]) -> Mapping[int, Sequence[int]]:
        """The rooms each user is a member of (whom their presence concerns); a user with none
        may be left out."""
        ...

    async def members_of(self, *, user_id: int, room_id: int) -> Sequence[int]:
        """The room's members, for a member; ``NotFound``/``Forbidden`` else."""
        ...


class RoomCalls(Protocol):
    """The calls that change a room (or read its history); each answers after its commit with
    the JSON the REST routes answer with (the event, with its ``seq`` and ``at``)."""

    async def send(self, *, user_id: int, room_id: int, body: str, client_id: str) -> Any: ...

    async def edit(self, *, user_id: int, room_id: int, message_id: int, body: str) -> Any: ...

    async def delete(self, *, user_id: int, room_id: int, message_id: int) -> Any: ...

    async def react(
        self, *, add: bool, user_id: int, room_id: int, message_id: int, emoji: str
    ) -> Any: ...

    async def mark_read(self, *, user_id: int, room_id: int, seq: int) -> Any: ...

    async def history(
        self, *, user_id: int, room_id: int, before: int | None, after: int | None, limit: int
    ) -> Any: ...
