"""What the chat's writes tell the rest of the application, once they are committed.

The gateway registers handlers for these in the composition root (publishing to the fan-out
between nodes); nothing in the chat's rules knows who listens. Emitted in the unit of work that
wrote the change, so a rolled-back change is never announced.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from agora.platform.events import Event


@dataclass(frozen=True, slots=True)
class RoomEventCommitted(Event):
    """A room changed: ``event`` is the event's wire dict exactly as history returns it
    (``chat/schemas.py``), and ``json`` the same encoded once, for every recipient to share."""

    room_id: int
    seq: int
    kind: str
    event: dict[str, Any]
    json: bytes


@dataclass(frozen=True, slots=True)
class ReadMarked(Event):
    """``user_id`` has read ``room_id`` up to ``seq`` (moved forward only): a read receipt, and
    the user's other devices may clear their unread count."""

    room_id: int
    user_id: int
    seq: int
    unread: int
