"""One connection's outgoing frames: a bounded queue between whoever has something to say (the
node's fan-out, the connection's own answers) and the one task that writes to the socket.

Live events are put without waiting (the fan-out cannot wait for one slow client): when a client
lets ``capacity`` frames pile up, the queue closes with ``SLOW_CONSUMER`` and the connection is
closed with that code; the client reconnects and recovers what it missed from the room's log. A
replay (``subscribe`` with ``since``) is paced instead: it waits while the queue is more than
half full, so however much a client missed, the queue stays bounded.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable

from agora.chat.gateway.close_codes import SLOW_CONSUMER


class QueueClosed(Exception):
    """The connection is closing: nothing more will be written."""


class Outgoing:
    def __init__(self, capacity: int, *, on_close: Callable[[], None] | None = None) -> None:
        self.capacity = capacity
        self._on_close = on_close  # the connection stops reading and closes the socket
        self._frames: deque[str] = deque()
        self._ready = asyncio.Event()  # set while there is a frame to write, or it closed
        self._room = asyncio.Event()  # set while a paced writer may go on
        self._room.set()
        # why it closed: a WebSocket close code and reason; None while open
        self.closed: tuple[int, str] | None = None

    def __len__(self) -> int:
        return len(self._frames)

    def put(self, frame: str) -> bool:
        """Queues ``frame``; False when the queue is (or becomes) closed: a slow consumer."""
        if self.closed is not None:
            return False
        if len(self._frames) >= self.capacity:
            self.close(SLOW_CONSUMER, "slow consumer: reconnect and resubscribe with since")
            return False
        self._frames.append(frame)
        self._ready.set()
        if len(self._frames) > self.capacity // 2:
            self._room.clear()
        return True

    async def put_paced(self, frame: str) -> None:
        """Queues ``frame`` once the queue is at most half full; ``QueueClosed`` if it closes."""
        while not self._room.is_set():
            await self._room.wait()
        if self.closed is not None or not self.put(frame):
            raise QueueClosed

    async def get(self) -> str:
        """The next frame to write; ``QueueClosed`` once closed (what was queued is dropped)."""
        while not self._frames:
            if self.closed is not None:
                raise QueueClosed
            self._ready.clear()
            await self._ready.wait()
        if self.closed is not None:
            raise QueueClosed
        frame = self._frames.popleft()
        if len(self._frames) <= self.capacity // 2:
            self._room.set()
        return frame

    def close(self, code: int, reason: str) -> None:
        if self.closed is None:
            self.closed = (code, reason)
            if self._on_close is not None:
                self._on_close()
        self._frames.clear()
        self._ready.set()
        self._room.set()  # paced writers wake, and find it closed
