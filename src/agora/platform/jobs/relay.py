"""The relay: moves due outbox rows to RabbitMQ, in batches, marking a row sent only once the
broker confirmed it.

It claims a batch (``claim_due(to_run=False)``: the rows are leased to it for a short while, so
another relay on another node skips them), publishes the whole batch at once and waits for the
confirms together (one round trip per batch rather than per message), then records
``published_at`` on the confirmed rows in one transaction. Rows the broker did not confirm are
released and published again by the next pass; a relay that dies mid-batch leaves rows whose
short lease ends soon. A message can so be published twice — the workers' check
(``JobStore.start``) and the handlers' idempotency make the copy harmless.

Batches overlap: once a batch's frames are queued for the socket, its confirms and its mark are
awaited by a task of their own, and the relay claims and sends the next batch meanwhile (up to
``BATCHES_IN_FLIGHT`` between claim and mark). One after another, a batch on a busy server's
loop took ~190 ms — claim 35, send 70, confirms 38, mark 49 — and the relay fell behind the
server's commits; the claim of the next batch skips the rows leased to the last one.

It runs in every server process when a broker is configured (woken by the commits of that
process: a job leaves at once) and in every ``agora worker`` (polling: retries, delayed and
periodic jobs move on even when no server is up). A worker's relay is the safety net, not the
main road: while servers relay too, it takes only jobs due for longer than a poll
(``due_for_seconds``), which no server took — so a worker's time goes to running jobs, not to
publishing what a server's relay is about to publish anyway.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import structlog

from agora.platform.jobs.broker import JobPublisher
from agora.platform.jobs.loop import JobLoop
from agora.platform.jobs.metrics import JobMetrics
from agora.platform.jobs.schedule import Scheduler
from agora.platform.jobs.store import ClaimedJob, JobStore

log = structlog.get_logger(__name__)


# batches claimed and not yet marked: one sending while the one before awaits its confirms and
# its mark (more would only hold more rows leased while the broker is slow)
BATCHES_IN_FLIGHT = 2
STOP_SECONDS = 10.0


class PublishFailed(Exception):
    """Some jobs of a batch were not confirmed; they wait for the next pass."""


class Relay(JobLoop):
    name = "outbox relay"

    def __init__(
        self,
        store: JobStore,
        publisher: JobPublisher,
        metrics: JobMetrics,
        *,
        poll_seconds: float,
        batch_size: int,
        scheduler: Scheduler | None = None,
        scheduled: Callable[[list[str]], None] | None = None,
        due_for_seconds: float = 0.0,
    ) -> None:
        super().__init__(
            poll_seconds=poll_seconds,
            batch_size=batch_size,
            scheduler=scheduler,
            scheduled=scheduled,
        )
        self.store = store
        self.publisher = publisher
        self.metrics = metrics
        # a claimed batch is the relay's for this long: publishing it takes a timeout at most
        self.claim_lease_seconds = 3 * publisher.timeout_seconds
        self.due_for_seconds = due_for_seconds
        self._in_flight = asyncio.Semaphore(BATCHES_IN_FLIGHT)
        self._settling: set[asyncio.Task[None]] = set()
        self._failure: Exception | None = None

    async def step(self) -> int:
        """Claims a batch and sends it; its confirms and mark are settled by a task of its own
        (``_settle``), whose failure the next step raises (the loop logs it and pauses)."""
        failure, self._failure = self._failure, None
        if failure is not None:
            raise failure
        await self.publisher.connect()  # no claim while the broker is away: nothing to release
        await self._in_flight.acquire()
        try:
            jobs = await self.store.claim_due(
                self.batch_size,
                to_run=False,
                lease_seconds=self.claim_lease_seconds,
                due_for_seconds=self.due_for_seconds,
            )
            confirms = await self.publisher.publish(jobs) if jobs else None
        except BaseException:
            self._in_flight.release()
            raise
        if confirms is None:
            self._in_flight.release()
            return 0
        task = asyncio.get_running_loop().create_task(self._settle(jobs, confirms))
        self._settling.add(task)
        task.add_done_callback(self._settling.discard)
        return len(jobs)

    async def _settle(self, jobs: list[ClaimedJob], confirms: Awaitable[list[str | None]]) -> None:
        try:
            await self._mark(jobs, await confirms)
        except Exception as exc:
            self._failure = exc
            self.wake()  # reported (and paused on) at once, not at the next poll
        finally:
            self._in_flight.release()

    async def _mark(self, jobs: list[ClaimedJob], refusals: list[str | None]) -> None:
        confirmed: list[ClaimedJob] = []
        refused: list[ClaimedJob] = []
        for job, refusal in zip(jobs, refusals, strict=True):
            (confirmed if refusal is None else refused).append(job)
        if confirmed:
            await self.store.mark_published(confirmed)
            for job in confirmed:
                self.metrics.published.labels(job.topic).inc()
        if refused:
            await self.store.release(refused)
            errors = sorted({refusal for refusal in refusals if refusal is not None})
            raise PublishFailed(f"{len(refused)} of {len(jobs)} not confirmed: {errors}")

    async def stop(self) -> None:
        """Stops claiming; the batches sent are confirmed and marked before the connection
        closes (one that is not within ``STOP_SECONDS`` is published again after its lease)."""
        await super().stop()
        if self._settling:
            await asyncio.wait(self._settling, timeout=STOP_SECONDS)
        await self.publisher.close()
