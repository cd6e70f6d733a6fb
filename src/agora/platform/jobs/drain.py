"""The embedded default: the server process itself runs the due jobs, with no broker.

A loop (``JobLoop``) claims due jobs from the outbox and runs their handlers, up to
``concurrency`` at once. Several server processes on one
database share the work safely: the claim (``JobStore.claim_due``) hands each job to one.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import structlog

from agora.platform.jobs.group_commit import GroupCommit
from agora.platform.jobs.handlers import BadPayload, JobContext, JobHandlers, UnknownTopic
from agora.platform.jobs.loop import JobLoop
from agora.platform.jobs.metrics import JobMetrics
from agora.platform.jobs.schedule import Scheduler
from agora.platform.jobs.store import ClaimedJob, JobStore
from agora.platform.uow import UnitsOfWork

log = structlog.get_logger(__name__)


class RunnerLost(Exception):
    """A job whose every run ended with the process that ran it."""

    def __init__(self, runs: int) -> None:
        super().__init__(f"its runner stopped during each of its {runs} runs (a crash or a kill)")


class JobRunner:
    """Runs one claimed job and records how it went: shared by the drain and the worker."""

    def __init__(
        self,
        store: JobStore,
        handlers: JobHandlers,
        units_of_work: UnitsOfWork,
        metrics: JobMetrics,
        *,
        group_commit: GroupCommit | None = None,
    ) -> None:
        self.store = store
        self.handlers = handlers
        self.units_of_work = units_of_work
        self.metrics = metrics
        self.group_commit = group_commit

    async def run(self, job: ClaimedJob) -> None:
        if job.attempt > self.store.max_attempts:
            # Its attempts were spent without a failure on record: each run ended with its
            # runner (a crash, an out-of-memory kill). Running it again would take the next
            # runner down too, so it is buried unrun, as a failure would have buried it.
            await self._failed(job, RunnerLost(job.attempt - 1), retry=False)
            return
        self.metrics.started.labels(job.topic).inc()
        started = time.perf_counter()
        context, error = await self._run_handler(job, self.group_commit)
        if context.run_alone:
            # its work was rolled back with other jobs' (group_commit.py): whatever this run
            # ended with says nothing about the job; a run in a transaction of its own decides
            log.info("job runs again alone", topic=job.topic, job_id=job.id)
            context, error = await self._run_handler(job, None)
        if isinstance(error, UnknownTopic | BadPayload):
            await self._failed(job, error, retry=False)
        elif error is not None:
            await self._failed(job, error, retry=True)
        else:
            if not context.finished_in_transaction:
                await self.store.succeeded(job.id)
            self.metrics.succeeded.labels(job.topic).inc()
            log.info(
                "job done",
                topic=job.topic,
                job_id=job.id,
                attempt=job.attempt,
                seconds=round(time.perf_counter() - started, 4),
            )

    async def _run_handler(
        self, job: ClaimedJob, group_commit: GroupCommit | None
    ) -> tuple[JobContext, Exception | None]:
        context = JobContext(
            job.id, job.topic, job.attempt, self.units_of_work, group_commit=group_commit
        )
        try:
            await self.handlers.run(payload=job.payload, context=context)
        except Exception as exc:
            return context, exc
        return context, None

    async def _failed(self, job: ClaimedJob, exc: Exception, *, retry: bool) -> None:
        self.metrics.failed.labels(job.topic).inc()
        error = f"{type(exc).__name__}: {exc}"
        died = await self.store.failed(job, error, retry=retry)
        if died:
            self.metrics.dead.labels(job.topic).inc()
        log.warning(
            "job failed",
            topic=job.topic,
            job_id=job.id,
            attempt=job.attempt,
            dead=died,
            error=error,
        )


class LocalDrain(JobLoop):
    name = "outbox drain"

    def __init__(
        self,
        runner: JobRunner,
        *,
        poll_seconds: float,
        batch_size: int,
        concurrency: int,
        scheduler: Scheduler | None = None,
        scheduled: Callable[[list[str]], None] | None = None,
    ) -> None:
        super().__init__(
            poll_seconds=poll_seconds,
            batch_size=batch_size,
            scheduler=scheduler,
            scheduled=scheduled,
        )
        self.runner = runner
        self._slots = asyncio.Semaphore(concurrency)
        self._running: set[asyncio.Task[None]] = set()

    def resize(self, concurrency: int) -> None:
        """Runs up to ``concurrency`` jobs at once from now on (before ``start``)."""
        self._slots = asyncio.Semaphore(concurrency)

    async def step(self) -> int:
        """Claims the jobs due now (one batch) and runs them; how many it claimed."""
        jobs = await self.runner.store.claim_due(self.batch_size)
        for job in jobs:
            await self._slots.acquire()
            task = asyncio.create_task(self._run(job))
            self._running.add(task)
            task.add_done_callback(self._running.discard)
        return len(jobs)

    async def _run(self, job: ClaimedJob) -> None:
        try:
            await self.runner.run(job)
        finally:
            self._slots.release()

    async def stop(self) -> None:
        """Stops claiming, then lets the jobs already running finish."""
        await super().stop()
        if self._running:
            await asyncio.gather(*self._running, return_exceptions=True)
