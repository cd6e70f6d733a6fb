"""Acknowledging finished messages together: one ``basic.ack`` for a run of them.

Each acknowledgement is a frame, and each frame a write to the socket that wakes the broker: on
a busy worker that was a tenth of its time per job. RabbitMQ numbers a channel's deliveries 1, 2,
3, … and a ``basic.ack`` with ``multiple`` settles every outstanding delivery up to its tag, so
the worker remembers which deliveries finished and, once per turn of the event loop, acknowledges
the longest finished run from the start with one frame.

A delivery is acknowledged only once its own job finished: the run stops at the first delivery
still running (or not yet started), whatever finished after it. So that one long job does not
hold back the acknowledgements of everything behind it (and, through the prefetch count, the
worker's supply of messages), more than ``hold_max`` finished deliveries waiting behind a running
one are acknowledged one by one. A message returned to the queue (``nack``) is settled alone.

Order matters: a tag acknowledged twice is a protocol error that closes the channel, so a
``multiple`` ack must never overtake the single ack or nack of a tag below it. aiormq's write
queue is bounded, and coroutines waiting to put into it can overtake each other; so every frame
of this class leaves through one sender task, in the order it was decided.

Tags belong to a channel: a reconnected channel starts again at 1 with a fresh record, and what
the lost channel had not acknowledged comes back from RabbitMQ, redelivered.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass

import structlog
from aio_pika.abc import AbstractIncomingMessage
from aiormq.abc import AbstractChannel

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class _Frame:
    channel: AbstractChannel
    tag: int
    multiple: bool = False
    requeue: bool = False  # a nack: back to the queue


class _ChannelAcks:
    """The finished deliveries of one channel not yet covered by a multiple ack."""

    def __init__(self, channel: AbstractChannel) -> None:
        self.channel = channel
        self.acked_through = 0  # every delivery up to this tag is settled
        self.finished: dict[int, bool] = {}  # tag → settled alone already (ack or nack)

    def advance(self) -> int | None:
        """Moves over the finished run after ``acked_through``; the tag to ack up to with
        ``multiple``, if any delivery of the run still needs it: the highest such one, since
        RabbitMQ refuses an ack (and closes the channel) for a tag settled before."""
        ack_through = None
        tag = self.acked_through + 1
        while tag in self.finished:
            if not self.finished.pop(tag):
                ack_through = tag
            tag += 1
        self.acked_through = tag - 1
        return ack_through

    def held(self) -> list[int]:
        return [tag for tag, alone in self.finished.items() if not alone]


class Acks:
    def __init__(self, *, hold_max: int) -> None:
        self.hold_max = hold_max
        self._channels: dict[int, _ChannelAcks] = {}
        self._flush_scheduled = False
        self._frames: deque[_Frame] = deque()
        self._sender: asyncio.Task[None] | None = None

    def finished(self, message: AbstractIncomingMessage) -> None:
        """The job of ``message`` is recorded: it may be acknowledged (within this loop turn)."""
        self._settle(message, alone=False)

    def returned(self, message: AbstractIncomingMessage) -> None:
        """Gives ``message`` back to the queue (``nack``): it comes again, redelivered."""
        self._settle(message, alone=True)

    def _settle(self, message: AbstractIncomingMessage, *, alone: bool) -> None:
        tag = message.delivery_tag
        try:
            channel = message.channel
        except Exception:  # closed: RabbitMQ gives its unacknowledged deliveries to others
            return
        if tag is None:
            return
        record = self._channels.get(id(channel))
        if record is None or record.channel is not channel:
            record = self._channels[id(channel)] = _ChannelAcks(channel)
        record.finished[tag] = alone
        if alone:
            self._send(_Frame(channel, tag, requeue=True))
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        for key, record in list(self._channels.items()):
            if record.channel.is_closed:
                # its unacknowledged deliveries go back to the queue on their own
                del self._channels[key]
                continue
            through = record.advance()
            if through is not None:
                self._send(_Frame(record.channel, through, multiple=True))
            held = record.held()
            if len(held) > self.hold_max:
                for tag in held:
                    record.finished[tag] = True
                    self._send(_Frame(record.channel, tag))

    def _send(self, frame: _Frame) -> None:
        self._frames.append(frame)
        if self._sender is None or self._sender.done():
            self._sender = asyncio.get_running_loop().create_task(self._send_in_order())

    async def _send_in_order(self) -> None:
        while self._frames:
            frame = self._frames.popleft()
            try:
                if frame.requeue:
                    await frame.channel.basic_nack(frame.tag, requeue=True)
                else:
                    await frame.channel.basic_ack(frame.tag, multiple=frame.multiple)
            except Exception:
                # the channel went down: RabbitMQ redelivers what it did not hear about
                log.warning("acknowledgement not sent", delivery_tag=frame.tag, exc_info=True)

    async def drain(self) -> None:
        """Sends what is waiting (before the connection closes at stop)."""
        if self._flush_scheduled:
            self._flush()
        if self._sender is not None:
            await self._sender
