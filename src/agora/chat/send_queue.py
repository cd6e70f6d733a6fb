"""Group commit for sends: the sends that arrive while earlier ones are being written go to the
database together, in one transaction (a ``SendWriter``: ``driver_sends.DriverSends`` on
PostgreSQL, ``sends.SessionSends`` on SQLite).

There is no timer: a send that finds a writer free is written at once, alone, so a quiet node
answers as fast as before. Under load every writer is busy, sends queue meanwhile, and each
writer takes up to ``max_batch`` of them next: the batches grow with the load, and the database
round trips per message fall with them. Every send is still committed before its answer.

A batch the database refuses as a whole (a lost connection, say) is written again one send at a
time, so one send's failure is never another's.
"""

from __future__ import annotations

import asyncio
from collections import deque

import structlog

from agora.chat.messages import SendLimits
from agora.chat.schemas import WireEvent
from agora.chat.sends import Outcome, Send, SendWriter
from agora.platform.errors import DomainError

log = structlog.get_logger(__name__)

# the most sends one transaction writes, and the most transactions of sends at once per process
MAX_BATCH = 64
# one: a batch on the driver is cheap, so fewer, larger batches (fewer commits) answer sooner
# under load, and cost both the node and PostgreSQL less (four -> two, B at 8,000 deliveries/s:
# p99 181/98 -> 111/66 ms; two -> one, at 12,000/s: server 78-82 -> 72 us a delivery, PostgreSQL
# and the rest 0.54-0.59 -> 0.45 cores, p99 30-39 -> 22-24 ms)
WRITERS = 1


class SendQueue:
    def __init__(
        self,
        writer: SendWriter,
        limits: SendLimits,
        *,
        max_batch: int = MAX_BATCH,
        writers: int = WRITERS,
    ) -> None:
        self.writer = writer
        self._limits = limits
        self._max_batch = max_batch
        self._writers = writers
        self._waiting: deque[tuple[Send, asyncio.Future[Outcome]]] = deque()
        self._active = 0  # writers in their loop: counted without a wait, so none is missed
        self._tasks: set[asyncio.Task[None]] = set()

    async def send(self, *, user_id: int, room_id: int, body: str, client_id: str) -> WireEvent:
        """The message's event once committed; the same ``client_id`` again returns the first
        one's. Raises the domain error that refused it."""
        await self._limits.check(user_id, body)
        outcome: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self._waiting.append((Send(user_id, room_id, body, client_id), outcome))
        if self._active < self._writers:
            self._active += 1
            writer = asyncio.create_task(self._write_while_waiting())
            self._tasks.add(writer)
            writer.add_done_callback(self._tasks.discard)
        # awaited as it is, not shielded: the call resumes on the loop's next turn after the
        # commit, the turn its own message's notification waits for (``Hub.publish_frames``), so
        # both go out in one write. A caller that goes away cancels its own outcome only: the
        # batch's other sends are written and answered, and so is its own, to nobody
        result = await outcome
        if isinstance(result, DomainError):
            raise result
        return result

    async def _write_while_waiting(self) -> None:
        try:
            while self._waiting:
                count = min(len(self._waiting), self._max_batch)
                batch = [self._waiting.popleft() for _ in range(count)]
                try:
                    await self._write(batch)
                except BaseException:  # cancelled: the process is stopping
                    for _, outcome in batch:
                        outcome.cancel()
                    raise
        finally:
            self._active -= 1

    async def _write(self, batch: list[tuple[Send, asyncio.Future[Outcome]]]) -> None:
        if len(batch) > 1:
            try:
                outcomes = await self.writer.write([send for send, _ in batch])
            except Exception:
                # each send again on its own below: the error reaches the send it belongs to
                log.warning("chat.send_batch_failed", sends=len(batch), exc_info=True)
            else:
                for (_, outcome), result in zip(batch, outcomes, strict=True):
                    if not outcome.done():  # done: cancelled by a caller that went away
                        outcome.set_result(result)
                return
        for send, outcome in batch:
            try:
                (result,) = await self.writer.write([send])
            except Exception as exc:  # the caller's to raise
                if not outcome.done():
                    outcome.set_exception(exc)
            else:
                if not outcome.done():
                    outcome.set_result(result)
