"""The jobs runtime: what the composition root builds from the settings and starts with a server.

On the embedded default (no ``AGORA_BROKER_URL``) the server drains the outbox itself
(``LocalDrain``). With a broker, the server's job is to relay the outbox to it, and
``agora worker`` processes run the handlers.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from agora.platform.db import Database
from agora.platform.jobs.drain import JobRunner, LocalDrain
from agora.platform.jobs.handlers import JobHandlers
from agora.platform.jobs.metrics import JobMetrics
from agora.platform.jobs.store import Backoff, JobStore
from agora.platform.uow import UnitsOfWork
from agora.settings import Settings


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
        self.runner = JobRunner(self.store, self.handlers, units_of_work, self.metrics)
        self.drain = LocalDrain(
            self.runner,
            poll_seconds=options.poll_seconds,
            batch_size=options.batch_size,
            concurrency=options.concurrency,
        )
        units_of_work.jobs_added = self._jobs_added

    @property
    def runs_in_server(self) -> bool:
        return self.settings.broker_url is None and self.settings.jobs.run_in_server

    def _jobs_added(self, topics: list[str]) -> None:
        for topic in topics:
            self.metrics.enqueued.labels(topic).inc()
        if self.runs_in_server:
            self.drain.wake()

    async def start_in_server(self) -> None:
        """What a server process runs beside its requests."""
        if self.runs_in_server:
            self.drain.start()

    async def close(self) -> None:
        await self.drain.stop()
