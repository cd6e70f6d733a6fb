"""What the embedded drain and the relay share: a loop that moves due jobs on.

It works a batch at a time, at once again while batches come back full; otherwise it waits
until a unit of work in this process commits jobs (``wake``) or ``poll_seconds`` pass (delayed
jobs coming due, retries, jobs committed by other processes). About once a second it also writes
the periodic jobs that came due (``Scheduler.tick``). A failure (the database or the broker away
for a moment) is logged and retried with a growing pause: the jobs wait in the outbox meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

import structlog

from agora.platform.db import utcnow
from agora.platform.jobs.schedule import Scheduler

log = structlog.get_logger(__name__)

TICK_SECONDS = 1.0
MAX_PAUSE_SECONDS = 5.0
STOP_SECONDS = 10.0


class JobLoop:
    name = "jobs loop"

    def __init__(
        self,
        *,
        poll_seconds: float,
        batch_size: int,
        scheduler: Scheduler | None = None,
        scheduled: Callable[[list[str]], None] | None = None,
    ) -> None:
        self.poll_seconds = poll_seconds
        self.batch_size = batch_size
        self.scheduler = scheduler
        self._scheduled = scheduled
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._next_tick = 0.0

    def wake(self) -> None:
        """A unit of work committed jobs: look now rather than at the next poll."""
        self._wake.set()

    async def step(self) -> int:
        """Moves one batch of due jobs on; how many it took."""
        raise NotImplementedError

    async def _tick(self) -> None:
        if self.scheduler is None or not self.scheduler.periodic:
            return
        if time.monotonic() < self._next_tick:
            return
        self._next_tick = time.monotonic() + TICK_SECONDS
        written = await self.scheduler.tick(utcnow())
        if written and self._scheduled is not None:
            self._scheduled(written)

    async def _loop(self) -> None:
        pause = 0.0
        while not self._stopping.is_set():
            self._wake.clear()
            try:
                await self._tick()
                taken = await self.step()
                pause = 0.0
            except Exception as exc:
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    # a driver turned the cancellation into an error of its own: still cancelled
                    raise asyncio.CancelledError from exc
                # the database or the broker away: the jobs wait in the outbox, nothing is lost
                pause = min(MAX_PAUSE_SECONDS, max(self.poll_seconds / 4, pause * 2))
                log.warning(f"{self.name} failed; retrying", error=repr(exc), pause=pause)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), pause)
                continue
            if taken == self.batch_size:
                continue  # more may be due already
            timeout = self.poll_seconds
            if self.scheduler is not None and self.scheduler.periodic:
                timeout = min(timeout, TICK_SECONDS)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)

    def start(self) -> None:
        if self._task is None:
            self._stopping.clear()
            self._task = asyncio.create_task(self._loop(), name=self.name)

    async def stop(self) -> None:
        """Lets the batch in hand finish (a cancelled claim or publish would leave its rows
        leased for a while), then ends the loop; cancels it if it does not end soon."""
        if self._task is None:
            return
        self._stopping.set()
        self._wake.set()
        try:
            await asyncio.wait_for(asyncio.shield(self._task), STOP_SECONDS)
        except TimeoutError:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._task = None
