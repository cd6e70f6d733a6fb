"""``agora worker``: a process that runs background jobs, until SIGTERM.

With ``AGORA_BROKER_URL`` it consumes the jobs' RabbitMQ queue and relays the outbox to it;
without, it drains the outbox itself (the embedded default, in a process of its own). SIGTERM or
SIGINT: it stops taking jobs, lets the running ones finish (``AGORA_JOBS_GRACEFUL_SECONDS``),
and exits 0. A job it could not finish is not lost: its message was not acknowledged, and
RabbitMQ delivers it again.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable

import structlog

from agora.container import Container
from agora.platform.heap import freeze_startup_objects
from agora.platform.observability import configure_logging
from agora.settings import Settings

log = structlog.get_logger(__name__)


async def run_worker(
    settings: Settings,
    *,
    concurrency: int | None = None,
    prepare: Callable[[Container], None] | None = None,
) -> None:
    """``prepare``: called with the container before it starts (a test registers its handlers)."""
    configure_logging(level=settings.log_level, json=settings.log_json)
    container = Container.from_settings(settings)
    if prepare is not None:
        prepare(container)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        await container.jobs.start_worker(concurrency=concurrency)
        # one container per process (this is a process's entry): full collections were the
        # jobs' p99 (heap.py)
        freeze_startup_objects()
        log.info(
            "worker started",
            broker=settings.broker_url is not None,
            queue=settings.jobs.queue,
            concurrency=concurrency or settings.jobs.concurrency,
            topics=container.jobs.handlers.topics,
        )
        await stop.wait()
        log.info("worker stopping")
    finally:
        await container.close()
    log.info("worker stopped")
