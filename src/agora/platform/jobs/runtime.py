"""The jobs runtime: what the composition root builds from the settings and starts with a server.

On the embedded default (no ``AGORA_BROKER_URL``) the server drains the outbox itself
(``LocalDrain``). With a broker, every server process relays the outbox to it (``Relay``), and
``agora worker`` processes consume the queue (``JobConsumer``) and relay too, so retries,
delayed and periodic jobs move on even when no server is up. ``AGORA_JOBS_RUN_IN_SERVER=false``
leaves draining or relaying to the workers alone.
"""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import CollectorRegistry

from agora.platform.db import Database, on_postgresql
from agora.platform.jobs.broker import JobPublisher
from agora.platform.jobs.drain import JobRunner, LocalDrain
from agora.platform.jobs.group_commit import GroupCommit
from agora.platform.jobs.handlers import JobHandlers, finish_jobs
from agora.platform.jobs.loop import JobLoop
from agora.platform.jobs.metrics import JobMetrics
from agora.platform.jobs.relay import Relay
from agora.platform.jobs.schedule import Scheduler
from agora.platform.jobs.store import Backoff, JobStore, OutboxStats
from agora.platform.jobs.worker import JobConsumer
from agora.platform.uow import UnitsOfWork
from agora.settings import Settings

STATS_SECONDS = 1.0  # the outbox's figures are read at most this often


class Jobs:
    def __init__(
        self,
        settings: Settings,
        *,
        db: Database,
        units_of_work: UnitsOfWork,
        registry: CollectorRegistry,
    ) -> None:
        options = settings.jobs
        self.settings = settings
        self.handlers = JobHandlers()
        self.metrics = JobMetrics(registry)
        self.store = JobStore(
            db,
            backoff=Backoff(options.backoff_seconds, options.backoff_max_seconds),
            max_attempts=options.max_attempts,
            lease_seconds=options.lease_seconds,
        )
        self.runner = JobRunner(
            self.store,
            self.handlers,
            units_of_work,
            self.metrics,
            group_commit=(
                GroupCommit(
                    units_of_work,
                    db.engine.connect,
                    max_jobs=options.group_max,
                    # one statement records a group's jobs (PostgreSQL; SQLite: one per job)
                    finish=finish_jobs if on_postgresql(db.engine) else None,
                )
                if options.group_max > 1
                else None
            ),
        )
        # the periodic jobs are registered after this: the scheduler reads the list when it ticks
        self.scheduler = Scheduler(db, self.handlers.periodic)
        self.publisher: JobPublisher | None = None
        self.loop: JobLoop
        loop_options: dict[str, Any] = {
            "poll_seconds": options.poll_seconds,
            "batch_size": options.batch_size,
            "scheduler": self.scheduler,
            "scheduled": self._count_enqueued,
        }
        if settings.broker_url is None:
            self.loop = LocalDrain(self.runner, concurrency=options.concurrency, **loop_options)
        else:
            self.publisher = JobPublisher(
                settings.broker_url,
                queue=options.queue,
                timeout_seconds=options.broker_timeout_seconds,
            )
            self.loop = Relay(self.store, self.publisher, self.metrics, **loop_options)
        self._consumer: JobConsumer | None = None
        self._stats: tuple[float, OutboxStats] | None = None
        units_of_work.jobs_added = self._jobs_added

    @property
    def runs_in_server(self) -> bool:
        return self.settings.jobs.run_in_server

    def _count_enqueued(self, topics: list[str]) -> None:
        for topic in topics:
            self.metrics.enqueued.labels(topic).inc()

    def _jobs_added(self, topics: list[str]) -> None:
        self._count_enqueued(topics)
        self.loop.wake()  # a no-op when the loop is not running here

    async def start_in_server(self) -> None:
        """What a server process runs beside its requests: the drain, or the relay."""
        if self.runs_in_server:
            self.loop.start()

    async def start_worker(self, *, concurrency: int | None = None) -> None:
        """What ``agora worker`` runs: the consumer and the relay with a broker, the drain (the
        embedded default, as a process of its own) without."""
        if self.settings.broker_url is not None:
            options = self.settings.jobs
            self._consumer = JobConsumer(
                self.runner,
                url=self.settings.broker_url,
                queue=options.queue,
                concurrency=concurrency or options.concurrency,
                timeout_seconds=options.broker_timeout_seconds,
                graceful_seconds=options.graceful_seconds,
            )
            await self._consumer.start()
            if self.runs_in_server and isinstance(self.loop, Relay):
                # the servers relay what they commit at once: this one picks up what they left
                self.loop.due_for_seconds = options.poll_seconds
        elif concurrency is not None and isinstance(self.loop, LocalDrain):
            self.loop.resize(concurrency)
        self.loop.start()

    async def check_broker(self) -> None:
        """Raises unless the broker answers (when one is configured)."""
        if self.publisher is not None:
            await self.publisher.ping()

    async def stats(self) -> OutboxStats:
        """The outbox's figures, read at most once a second, and shown in the gauges."""
        now = time.monotonic()
        if self._stats is None or now - self._stats[0] >= STATS_SECONDS:
            stats = await self.store.stats()
            self.metrics.show(stats)
            self._stats = (now, stats)
        return self._stats[1]

    async def close(self) -> None:
        """Stops taking jobs; the jobs running finish first."""
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None
        await self.loop.stop()
