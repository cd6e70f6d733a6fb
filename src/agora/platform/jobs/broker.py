"""RabbitMQ: the one durable queue the relay publishes to and workers consume.

Each job is one persistent message on a durable queue (it survives a broker restart), published
through the default exchange with the queue's name as routing key. Its message id is the outbox
row's id; its headers carry the topic and the runs the job had before this copy (the worker's
check against stale copies, ``JobStore.start``). Publisher confirms are on: a job counts as
published only when the broker acknowledged its message, and it is mandatory, so a message the
broker could not route comes back as not confirmed.

The workers consume through FastStream (``worker.py``). The relay publishes through aio-pika's
connection and channel, and sends a batch with aiormq's ``basic_publish(wait=False)`` (aiormq is
the AMQP client beneath aio-pika and FastStream): the messages of a batch are queued for the
socket a writer's load at a time (``WRITE_QUEUE_FRAMES``) and their confirms awaited together. A
publish that waits (FastStream's and aio-pika's) holds the channel until its frame is written,
and so does one that finds the writer's queue full: a batch went out one message per loop turn
or worse — on a server whose loop is busy with requests, 3 ms a message, the relay's whole time.
Now a hundred messages take about ten turns (``docs/performance.md``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence

import aio_pika
import aiormq
import orjson
from aio_pika.abc import AbstractChannel, AbstractConnection
from faststream.rabbit import RabbitBroker, RabbitQueue
from pamqp.commands import Basic

from agora.platform.jobs.store import ClaimedJob

TOPIC_HEADER = "x-agora-topic"
RUNS_HEADER = "x-agora-runs-before"
PERSISTENT = 2  # AMQP's delivery mode of a message written to disk by the broker
# the frames aiormq's connection queues for its socket writer
WRITE_QUEUE_FRAMES = aiormq.Connection.FRAME_BUFFER_SIZE


def job_queue(name: str) -> RabbitQueue:
    return RabbitQueue(name, durable=True)


def rabbit_broker(
    url: str, *, timeout_seconds: float, graceful_seconds: float | None = None
) -> RabbitBroker:
    return RabbitBroker(
        url,
        timeout=timeout_seconds,
        # at stop, how long the handlers still running get to finish
        graceful_timeout=graceful_seconds,
        # FastStream would log every message; the jobs log their own outcome instead
        logger=None,
        # no dependency injection per message: the consumer reads the message itself
        apply_types=False,
    )


async def _outcomes(confirms: list[asyncio.Future[object]]) -> list[str | None]:
    outcomes = await asyncio.gather(*confirms, return_exceptions=True)
    return [None if isinstance(outcome, Basic.Ack) else repr(outcome) for outcome in outcomes]


class JobPublisher:
    """The relay's connection: publishes claimed jobs, with confirms."""

    def __init__(self, url: str, *, queue: str, timeout_seconds: float) -> None:
        self.queue = queue
        self.timeout_seconds = timeout_seconds
        self._url = url
        self._connection: AbstractConnection | None = None
        self._channel: AbstractChannel | None = None
        self._connecting = asyncio.Lock()

    async def connect(self) -> AbstractChannel:
        """The channel, with confirms on; connects (and declares the queue) when there is none
        or the last one closed (the broker went away)."""
        channel = self._channel
        if channel is not None and not channel.is_closed:
            return channel
        async with self._connecting:
            if self._channel is None or self._channel.is_closed:
                await self.close()
                self._channel = await asyncio.wait_for(self._open(), self.timeout_seconds)
        return self._channel

    async def _open(self) -> AbstractChannel:
        connection = await aio_pika.connect(self._url, timeout=self.timeout_seconds)
        try:
            channel = await connection.channel(publisher_confirms=True, on_return_raises=False)
            await channel.declare_queue(self.queue, durable=True)
        except BaseException:
            await connection.close()
            raise
        self._connection = connection
        return channel

    async def publish(self, jobs: Sequence[ClaimedJob]) -> Awaitable[list[str | None]]:
        """Publishes ``jobs`` at once; returns once their frames are queued for the socket, with
        what awaits their confirms together: for each, None if the broker acknowledged it, or
        what came instead (a nack, a return, an error). The caller awaits it, always."""
        channel = await (await self.connect()).get_underlay_channel()
        # the channel's class: its ``basic_publish`` takes ``wait``, the interface's does not
        assert isinstance(channel, aiormq.Channel)
        confirms: list[asyncio.Future[object]] = []
        for number, job in enumerate(jobs, 1):
            publish = channel.basic_publish(
                orjson.dumps(job.payload),
                routing_key=self.queue,
                properties=Basic.Properties(
                    content_type="application/json",
                    delivery_mode=PERSISTENT,
                    message_id=job.id,
                    headers={TOPIC_HEADER: job.topic, RUNS_HEADER: job.runs_before},
                ),
                mandatory=True,
                timeout=self.timeout_seconds,
                wait=False,  # queued for the socket, not written yet: the confirm is awaited
            )
            confirms.append(asyncio.ensure_future(publish))
            if number % WRITE_QUEUE_FRAMES == 0:
                # aiormq's writer takes this many frames at a time; a publish that finds no room
                # waits holding the channel, and then the rest go one per loop turn
                await asyncio.sleep(0)
        return _outcomes(confirms)

    async def ping(self) -> None:
        """Raises unless the broker is reachable now."""
        await self.connect()
        if self._connection is None or self._connection.is_closed:
            raise ConnectionError("the broker connection is down")

    async def close(self) -> None:
        connection, self._connection, self._channel = self._connection, None, None
        if connection is not None and not connection.is_closed:
            await connection.close()
