"""One connection's subscription to one room: the room's events, in order, each once.

The fan-out is at most once and keeps no order between two publishers (two sends committed one
after the other on two nodes may arrive the other way round). The room's log has both: every
event has the room's next sequence number, committed before it is published. So a stream
remembers the last sequence number it delivered and:

- delivers the next one at once, and drops what it delivered already;
- holds one that comes early (a gap) for ``reorder_seconds``, which is usually all the missing
  one needs to arrive; if it does not, reads the gap from the log;
- on ``catch_up`` (a subscription with ``since``, or a gap), reads the log after its last
  sequence number, page by page, while holding what arrives live meanwhile; once the log has
  nothing more, delivers what it held that follows, and is live. The last step awaits nothing,
  so no event can fall between the replay and the live stream.

The node subscribes to the fan-out before the stream starts: whatever is committed after the
room's head (or the log's last page) was read reaches the stream live, whatever before is in the
log. A subscription without ``since`` starts at the head (``start_at``) and reads the log only
when what arrived live meanwhile has a gap.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

import structlog

from agora.chat.gateway.outgoing import CLOSED, WRITTEN, Outgoing, QueueClosed

log = structlog.get_logger("agora.chat.gateway")

# (after, limit) → the events after ``after``, as (seq, frame)
ReadLog = Callable[[int, int], Awaitable[Sequence[tuple[int, str]]]]


class RoomStream:
    def __init__(
        self,
        *,
        room_id: int,
        user_id: int,
        outgoing: Outgoing,
        read: ReadLog,
        page: int,
        reorder_seconds: float,
        last: int,
        on_replayed: Callable[[int], None],
        on_written: Callable[[int], None],
        on_failure: Callable[[BaseException], None],
    ) -> None:
        self.room_id = room_id
        self.user_id = user_id
        self.last = last  # the last sequence number this client has
        self._outgoing = outgoing
        self._read = read
        self._page = page
        self._reorder_seconds = reorder_seconds
        self._on_replayed = on_replayed  # counts recoveries (metrics)
        self._on_written = on_written  # counts frames written at once off the fan-out's path
        self._on_failure = on_failure  # a gap that could not be read: the connection ends
        # held early events: bounded; past the bound they are forgotten and read from the log
        self._held: dict[int, str] = {}
        self._max_held = max(4, outgoing.capacity // 4)
        self._catching_up = True  # until the first catch_up ends
        self._timer: asyncio.TimerHandle | None = None
        self._filling: asyncio.Task[None] | None = None
        self._ends_at: int | None = None  # the event that ends the user's membership
        self._forgot = False  # held events were dropped once (only the log has them now)
        self.closed = False

    def on_event(self, seq: int, frame: str, *, with_answer: bool = False) -> int:
        """A live event of the room (on the fan-out's task: never blocks). 1 when it went to
        the socket at once as the next event, which the hub counts with the rest of its
        fan-out in one step; events released after a gap are counted by ``on_written``.
        ``with_answer``: the client's own call made it, and the answer follows in this loop
        turn; the event waits for it, to go out in the same write."""
        if self.closed or seq <= self.last:
            return 0
        if not self._catching_up and seq == self.last + 1 and not self._held:
            if with_answer:  # the usual case for the sender's own: queued, counted by the writer
                if self._outgoing.put_before_answer(frame):
                    self._delivered(seq)
                return 0
            return self._deliver(seq, frame)  # the usual case: the next one, live
        if len(self._held) >= self._max_held:
            self._held.clear()  # the log has them: the catch-up reads them instead
            self._forgot = True
        self._held[seq] = frame
        if self._catching_up:
            return 0
        self._release()
        if self._held and self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(
                self._reorder_seconds, self._gap_persists
            )
        return 0  # what it released, it counted itself

    async def start_at(self, head: int) -> int:
        """A subscription without ``since``: the client starts at ``head``, read after the node
        began listening, so whatever follows it is held already (or still to come). The log is
        read only when what is held does not follow on from ``head``; the number of events
        read."""
        self.last = head
        if not self._forgot:
            self._release()
            if not self._held:
                self._catching_up = False
                return 0
        return await self.catch_up()

    def _deliver(self, seq: int, frame: str) -> int:
        """1 when the frame went to the socket at once, else 0 (queued, or the end)."""
        put = CLOSED if self.closed else self._outgoing.put(frame)
        if put:
            self._delivered(seq)
        return 1 if put == WRITTEN else 0

    def _delivered(self, seq: int) -> None:
        self.last = seq
        if self._ends_at is not None and seq >= self._ends_at:
            self.ended()
            self.close()  # nothing after the event that ended the membership

    def end_after(self, seq: int) -> None:
        """The user left or was removed at ``seq``: the stream ends once that is delivered."""
        self._ends_at = seq
        if self.last >= seq:
            self.ended()
            self.close()

    def ended(self) -> None:
        """Called once the last event the user may see is delivered; ``WatchingStream`` tells
        its connection."""

    def _release(self) -> None:
        """Delivers the held events that follow what the client has, and forgets the old."""
        written, ended = 0, False
        while (frame := self._held.pop(self.last + 1, None)) is not None:
            written += self._deliver(self.last + 1, frame)
            if self._outgoing.closed is not None or self.closed:
                ended = True
                break
        if written:
            self._on_written(written)
        if ended:
            return
        for seq in [seq for seq in self._held if seq <= self.last]:
            del self._held[seq]
        if not self._held and self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _gap_persists(self) -> None:
        self._timer = None
        if self._held and not self._catching_up and not self.closed:
            self._filling = asyncio.create_task(self._fill(), name="chat gap fill")

    async def _fill(self) -> None:
        try:
            await self.catch_up()
        except QueueClosed:
            pass  # the connection is closing
        except Exception as exc:
            log.exception("reading a gap from the log failed", room=self.room_id)
            self._on_failure(exc)

    async def catch_up(self) -> int:
        """Reads the log after ``last`` until it has nothing more, then goes live; the number of
        events it read. ``QueueClosed`` if the connection closes meanwhile."""
        self._catching_up = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        replayed = 0
        try:
            while not self.closed:
                events = await self._read(self.last, self._page)
                for seq, frame in events:
                    if seq > self.last and not self.closed:
                        await self._outgoing.put_paced(frame)
                        self._delivered(seq)
                        replayed += 1
                if len(events) == self._page:
                    continue  # a full page: there may be more
                self._release()
                if not self._held:
                    break  # live from here: nothing awaited since the last read
                if not events:
                    # the log has nothing after `last`, yet a later event arrived: it cannot be
                    # read (not this user's to see); go on from it rather than wait forever
                    log.warning("gap the log cannot fill", room=self.room_id, after=self.last)
                    self.last = min(self._held) - 1
                    self._release()
                    if not self._held:
                        break
        finally:
            self._catching_up = False
            if replayed:
                self._on_replayed(replayed)
        return replayed

    def close(self) -> None:
        self.closed = True
        self._held.clear()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._filling is not None and not self._filling.done():
            self._filling.cancel()
