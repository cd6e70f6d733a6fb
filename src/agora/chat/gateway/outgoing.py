"""One connection's outgoing frames: a bounded queue between whoever has something to say (the
node's fan-out, the connection's own answers) and the one task that writes to the socket.

Live events are put without waiting (the fan-out cannot wait for one slow client): when a client
lets ``capacity`` frames pile up, the queue closes with ``SLOW_CONSUMER`` and the connection is
closed with that code; the client reconnects and recovers what it missed from the room's log. A
replay (``subscribe`` with ``since``) is paced instead: it waits while the queue is more than
half full, so however much a client missed, the queue stays bounded.

A frame that finds the queue empty is written to the socket at once (``write_now``, when the
server offers it and the socket takes writes): a fan-out to hundreds of connections costs a
write each, not a task switch each. The queue holds what the socket cannot take yet, and a
replay's pages, which its writer sends together.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable

from agora.chat.gateway.close_codes import SLOW_CONSUMER
from agora.platform.websocket_protocol import WriteNow


class QueueClosed(Exception):
    """The connection is closing: nothing more will be written."""


# what ``put`` did with a frame: truthy when it will reach the client. Plain ints: a fan-out
# compares one per recipient
CLOSED, QUEUED, WRITTEN = 0, 1, 2


class Outgoing:
    """The frames wait in a deque made for them and dropped once they are written; the writer
    and a paced replay each wait on a future made only while they wait (two ``asyncio.Event``
    would hold two deques per idle connection, and an empty deque keeps its first block: about
    700 bytes a connection, for nothing, while it is idle)."""

    def __init__(
        self,
        capacity: int,
        *,
        on_close: Callable[[], None] | None = None,
        write_now: WriteNow | None = None,
        on_queued: Callable[[], None] | None = None,
        write_answer: WriteNow | None = None,
    ) -> None:
        self.capacity = capacity
        self._on_close = on_close  # the connection stops reading and closes the socket
        # a frame waits in the queue: someone must write it (the connection starts its writer)
        self._on_queued = on_queued
        self._write_now = write_now  # writes a frame at once if the socket takes it
        # the same for an answer, which may wait for the answers to the calls after it
        self._write_answer = write_answer or write_now
        # the writer took a frame from the queue and has not written it yet: nothing may pass it
        self._in_hand = False
        self._frames: deque[str] | None = None  # None while nothing waits
        self._ready: asyncio.Future[None] | None = None  # the writer's, while the queue is empty
        self._room: asyncio.Future[None] | None = None  # a paced writer's, while it is full
        # why it closed: a WebSocket close code and reason; None while open
        self.closed: tuple[int, str] | None = None

    def __len__(self) -> int:
        return len(self._frames) if self._frames is not None else 0

    def put(self, frame: str, *, now: bool = True) -> int:
        """Writes ``frame`` at once if nothing waits before it and the socket takes it (unless
        ``now`` is False): ``WRITTEN``; or queues it: ``QUEUED``; ``CLOSED`` when the queue is
        (or becomes) closed: a slow consumer. Whoever puts counts what was written at once (the
        writer counts the rest): a fan-out counts its recipients in one step, not one call a
        frame."""
        return self._put(frame, now=now, wake=True)

    def put_answer(self, frame: str) -> int:
        """``put`` for the answer to one of the client's calls: written with the answers to
        the calls the client sent after it without waiting, when the server can do that
        (``write_answer``)."""
        return self._put(frame, now=True, wake=True, write=self._write_answer)

    def put_before_answer(self, frame: str) -> int:
        """Queues ``frame`` and wakes the writer on the loop's next turn, not at once: an answer
        put meanwhile (the call that made this frame resumes on that turn) queues behind it, and
        the writer sends both in one write. ``QUEUED``, or ``CLOSED``."""
        return self._put(frame, now=False, wake=False)

    def _put(self, frame: str, *, now: bool, wake: bool, write: WriteNow | None = None) -> int:
        if self.closed is not None:
            return CLOSED
        if self._frames is None:
            write = write or self._write_now
            if now and not self._in_hand and write is not None and write(frame):
                return WRITTEN
            self._frames = deque()
            if self._on_queued is not None:
                self._on_queued()
        elif len(self._frames) >= self.capacity:
            self.close(SLOW_CONSUMER, "slow consumer: reconnect and resubscribe with since")
            return CLOSED
        self._frames.append(frame)
        if wake:
            self._ready = _wake(self._ready)
        elif self._ready is not None:
            ready, self._ready = self._ready, None
            asyncio.get_running_loop().call_soon(_wake, ready)
        return QUEUED

    async def put_paced(self, frame: str) -> None:
        """Queues ``frame`` once the queue is at most half full; ``QueueClosed`` if it closes."""
        while self.closed is None and len(self) > self.capacity // 2:
            if self._room is None:  # shared by every paced writer (several rooms' replays)
                self._room = asyncio.get_running_loop().create_future()
            # shielded: one replay cancelled must not cancel the others' wait
            await asyncio.shield(self._room)
        # queued, never written at once: the writer sends a page's frames in one write
        if self.closed is not None or not self.put(frame, now=False):
            raise QueueClosed

    async def get_all(self) -> list[str]:
        """Every queued frame (at least one), to be written together; ``QueueClosed`` once
        closed. The writer calls it again once it has written them. Taken frames leave the
        queue's count: while a socket is full, a client holds at most twice ``capacity``
        frames of the node's memory (those in hand, and a queue that fills again)."""
        self._in_hand = False
        while not self._frames:
            if self.closed is not None:
                raise QueueClosed
            self._ready = asyncio.get_running_loop().create_future()
            await self._ready
        if self.closed is not None:
            raise QueueClosed
        frames = list(self._frames)
        self._frames = None
        self._in_hand = True
        self._room = _wake(self._room)
        return frames

    def close(self, code: int, reason: str) -> None:
        if self.closed is None:
            self.closed = (code, reason)
            if self._on_close is not None:
                self._on_close()
        self._frames = None
        self._ready = _wake(self._ready)
        self._room = _wake(self._room)  # a paced writer wakes, and finds it closed


def _wake(waiter: asyncio.Future[None] | None) -> asyncio.Future[None] | None:
    """Wakes whoever waits on ``waiter``; returns None, the next waiter (there is none yet)."""
    if waiter is not None and not waiter.done():
        waiter.set_result(None)
    return None
