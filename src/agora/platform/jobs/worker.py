"""The consumer of ``agora worker``: runs the jobs the relay published to RabbitMQ.

FastStream consumes the queue with ``prefetch_count = concurrency``: RabbitMQ hands the worker
that many unacknowledged messages at most, and FastStream runs a handler for each at once. A
message is acknowledged only after its outcome is recorded in the outbox (the row deleted, or
rescheduled with its backoff, or dead), together with the others finished meanwhile
(``acks.Acks``); if recording fails, the message is returned to the queue (nack) and comes
back. A worker killed mid-job never acknowledges: RabbitMQ delivers the message again
(``redelivered``) to another worker, and the handler's idempotency (``JobContext.first_time``)
keeps the effect single.

A failed run does not go back to RabbitMQ: the row in the outbox gets its next ``run_at``
(exponential backoff with jitter) and ``published_at`` cleared, and the relay publishes it again
when it is due. The broker so holds only work that may start now; delays live in the database.
"""

from __future__ import annotations

import asyncio
from typing import Any

import structlog
from faststream import AckPolicy
from faststream.rabbit import Channel, RabbitBroker, RabbitMessage

from agora.platform.jobs.acks import Acks
from agora.platform.jobs.broker import RUNS_HEADER, TOPIC_HEADER, job_queue, rabbit_broker
from agora.platform.jobs.drain import JobRunner
from agora.platform.jobs.store import ClaimedJob, JobStore, StartRequest

log = structlog.get_logger(__name__)


class Starts:
    """Counts the starts of the redelivered messages that arrive together with one statement.

    Only a message RabbitMQ delivers again is started before it runs (a first delivery is not:
    ``JobConsumer._consume``). Redeliveries come in bursts — a dead worker's whole prefetch at
    once — so each asks for its start here and the first one's flush, a loop turn later, takes
    every request made meanwhile: one UPDATE instead of one per message.
    """

    def __init__(self, store: JobStore) -> None:
        self.store = store
        self._waiting: list[tuple[StartRequest, asyncio.Future[ClaimedJob | None]]] = []
        self._flushing: set[asyncio.Task[None]] = set()

    async def start(self, request: StartRequest) -> ClaimedJob | None:
        future: asyncio.Future[ClaimedJob | None] = asyncio.get_running_loop().create_future()
        if not self._waiting:
            asyncio.get_running_loop().call_soon(self._flush)
        self._waiting.append((request, future))
        return await future

    def _flush(self) -> None:
        batch, self._waiting = self._waiting, []
        task = asyncio.get_running_loop().create_task(self._start(batch))
        self._flushing.add(task)
        task.add_done_callback(self._flushing.discard)

    async def _start(
        self, batch: list[tuple[StartRequest, asyncio.Future[ClaimedJob | None]]]
    ) -> None:
        try:
            started = await self.store.start_many([request for request, _ in batch])
        except Exception as exc:
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for request, future in batch:
            if not future.done():
                future.set_result(started.get(request.job_id))


class JobConsumer:
    def __init__(
        self,
        runner: JobRunner,
        *,
        url: str,
        queue: str,
        concurrency: int,
        timeout_seconds: float,
        graceful_seconds: float,
    ) -> None:
        self.runner = runner
        self._starts = Starts(runner.store)
        # at most half the prefetch finished but unacknowledged behind one long job
        self._acks = Acks(hold_max=max(1, concurrency // 2))
        self.broker: RabbitBroker = rabbit_broker(
            url, timeout_seconds=timeout_seconds, graceful_seconds=graceful_seconds
        )
        self._subscriber = self.broker.subscriber(
            job_queue(queue),
            channel=Channel(prefetch_count=concurrency),
            ack_policy=AckPolicy.MANUAL,  # ``consume`` settles every message itself
            no_reply=True,
        )
        self._subscriber(self.consume)

    async def consume(self, body: Any) -> None:
        message: RabbitMessage = self.broker.context.get_local("message")
        try:
            await self._consume(message, body)
        except Exception:
            # the outcome could not be recorded (the database away): the message goes back to
            # the queue (nack) and comes again, redelivered
            log.warning(
                "job not recorded; returned to the queue",
                job_id=message.message_id,
                exc_info=True,
            )
            self._acks.returned(message.raw_message)
        else:
            self._acks.finished(message.raw_message)

    async def _consume(self, message: RabbitMessage, body: Any) -> None:
        job_id = message.message_id
        try:
            runs_before = int(message.headers[RUNS_HEADER])
            topic = str(message.headers[TOPIC_HEADER])
        except (KeyError, TypeError, ValueError):
            log.warning("a message that is no job of ours: dropped", message_id=job_id)
            return
        if not message.raw_message.redelivered:
            # the usual case: no statement before the run (the start's check is the run's own)
            job: ClaimedJob | None = ClaimedJob.first_delivery(
                job_id, topic, body, runs_before=runs_before
            )
        else:
            # its worker died with it: counted, and refused if it finished or moved on since
            job = await self._starts.start(StartRequest(job_id, runs_before, redelivered=True))
        if job is None:
            # finished or dead already, or a stale copy: acknowledged and dropped
            log.info("job copy skipped", job_id=job_id, runs_before=runs_before)
            return
        await self.runner.run(job)  # the handler's failures are recorded there

    async def start(self) -> None:
        await self.broker.start()

    async def stop(self) -> None:
        """Stops taking messages; the handlers running finish (within the graceful time), and
        their acknowledgements leave before the connection closes."""
        await self._subscriber.stop()
        await self._acks.drain()
        await self.broker.stop()
