"""RabbitMQ through FastStream: the one durable queue the relay publishes to and workers consume.

Each job is one persistent message on a durable queue (it survives a broker restart), published
through the default exchange with the queue's name as routing key. Its message id is the outbox
row's id; its headers carry the topic and the runs the job had before this copy (the worker's
check against stale copies, ``JobStore.start``). Publisher confirms are on (FastStream's
default): ``publish`` is True only when the broker acknowledged the message, and it is mandatory,
so a message the broker could not route comes back as not confirmed.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from faststream.rabbit import RabbitBroker, RabbitQueue
from pamqp.commands import Basic

from agora.platform.jobs.store import ClaimedJob

TOPIC_HEADER = "x-agora-topic"
RUNS_HEADER = "x-agora-runs-before"


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


class JobPublisher:
    """The relay's connection: publishes claimed jobs, with confirms."""

    def __init__(self, url: str, *, queue: str, timeout_seconds: float) -> None:
        self.queue = job_queue(queue)
        self.timeout_seconds = timeout_seconds
        self._url = url
        self._broker: RabbitBroker | None = None
        self._connecting = asyncio.Lock()

    async def connect(self) -> RabbitBroker:
        """The connected broker; connects (and declares the queue) the first time."""
        if self._broker is not None:
            return self._broker
        async with self._connecting:
            if self._broker is None:
                broker = rabbit_broker(self._url, timeout_seconds=self.timeout_seconds)
                try:
                    await asyncio.wait_for(broker.connect(), self.timeout_seconds)
                    await broker.declare_queue(self.queue)
                except BaseException:
                    await broker.stop()
                    raise
                self._broker = broker
        return self._broker

    async def publish(self, job: ClaimedJob) -> bool:
        broker = await self.connect()
        confirmation: Any = await broker.publish(
            orjson.dumps(job.payload),
            self.queue,  # the object, not its name: FastStream would build one per message
            persist=True,
            message_id=job.id,
            headers={TOPIC_HEADER: job.topic, RUNS_HEADER: job.runs_before},
            content_type="application/json",
            timeout=self.timeout_seconds,
        )
        return isinstance(confirmation, Basic.Ack)

    async def ping(self) -> None:
        """Raises unless the broker is reachable now."""
        broker = await self.connect()
        if not await broker.ping(timeout=self.timeout_seconds):
            raise ConnectionError("the broker connection is down")

    async def close(self) -> None:
        if self._broker is not None:
            await self._broker.stop()
            self._broker = None
