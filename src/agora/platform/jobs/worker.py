"""The consumer of ``agora worker``: runs the jobs the relay published to RabbitMQ.

FastStream consumes the queue with ``prefetch_count = concurrency``: RabbitMQ hands the worker
that many unacknowledged messages at most, and FastStream runs a handler for each at once. A
message is acknowledged only after its outcome is recorded in the outbox (the row deleted, or
rescheduled with its backoff, or dead); if recording fails, the message is returned to the
queue (nack) and comes back. A worker killed mid-job never acknowledges: RabbitMQ delivers the
message again (``redelivered``) to another worker, and the handler's idempotency
(``JobContext.first_time``) keeps the effect single.

A failed run does not go back to RabbitMQ: the row in the outbox gets its next ``run_at``
(exponential backoff with jitter) and ``published_at`` cleared, and the relay publishes it again
when it is due. The broker so holds only work that may start now; delays live in the database.
"""

from __future__ import annotations

import structlog
from faststream import AckPolicy
from faststream.rabbit import Channel, RabbitBroker, RabbitMessage

from agora.platform.jobs.broker import RUNS_HEADER, job_queue, rabbit_broker
from agora.platform.jobs.drain import JobRunner

log = structlog.get_logger(__name__)


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
        self.broker: RabbitBroker = rabbit_broker(
            url, timeout_seconds=timeout_seconds, graceful_seconds=graceful_seconds
        )
        self.broker.subscriber(
            job_queue(queue),
            channel=Channel(prefetch_count=concurrency),
            ack_policy=AckPolicy.NACK_ON_ERROR,
            no_reply=True,
        )(self.consume)

    async def consume(self, message: RabbitMessage) -> None:
        job_id = message.message_id
        try:
            runs_before = int(message.headers[RUNS_HEADER])
        except (KeyError, TypeError, ValueError):
            log.warning("a message that is no job of ours: dropped", message_id=job_id)
            return
        job = await self.runner.store.start(
            job_id, runs_before=runs_before, redelivered=bool(message.raw_message.redelivered)
        )
        if job is None:
            # finished or dead already, or a stale copy: acknowledged and dropped
            log.info("job copy skipped", job_id=job_id, runs_before=runs_before)
            return
        await self.runner.run(job)

    async def start(self) -> None:
        await self.broker.start()

    async def stop(self) -> None:
        """Stops taking messages; the handlers running finish (within the graceful time)."""
        await self.broker.stop()
