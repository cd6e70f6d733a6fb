"""Housekeeping: what the jobs leave behind is deleted once nobody can need it.

``processed_jobs`` grows by a row per job. A record is needed while another copy of its job may
still run: a copy arriving after the job finished finds no outbox row and is skipped by the
worker's start (``JobStore.start``), so only copies racing the first run rely on the record.
``AGORA_JOBS_PROCESSED_RETENTION_SECONDS`` (a week by default) is far beyond that, and beyond
any redelivery a broker outage could delay.

Other contexts register purges of their own the same way (``identity.jobs``: used and expired
account tokens). Each is a periodic job (``JobHandlers.every``): once an hour on one node, with
retries and dead letters like any job. Deleting is idempotent, so a purge needs no record of
its own runs; it deletes in batches so that no transaction holds many locks for long.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy import ColumnElement, Delete, delete, select
from sqlalchemy.orm import InstrumentedAttribute

from agora.platform.db import utcnow
from agora.platform.jobs.handlers import JobContext, JobHandlers, ProcessedJob
from agora.platform.outbox import Topic

# every hour, at a minute of its own (not on the hour, when other schedules crowd)
HOURLY = "17 * * * *"
BATCH = 1000


class Purge(BaseModel):
    due: datetime


def purge_batches(
    key: InstrumentedAttribute[Any], stale: Callable[[datetime], ColumnElement[bool]]
) -> Callable[[datetime], Delete]:
    """A statement deleting up to ``BATCH`` rows of ``key``'s table that ``stale(now)`` says
    are stale (by key, so it works the same on PostgreSQL and SQLite)."""

    def statement(now: datetime) -> Delete:
        batch = select(key).where(stale(now)).limit(BATCH).scalar_subquery()
        return delete(key.class_).where(key.in_(batch))

    return statement


async def delete_in_batches(job: JobContext, statement: Callable[[datetime], Delete]) -> int:
    """Runs ``statement`` in transactions of their own until one deletes less than a batch; how
    many rows went."""
    deleted = 0
    now = utcnow()
    while True:
        async with job.unit_of_work() as uow:
            result = await uow.session.execute(statement(now))
            await uow.commit()
        count = int(result.rowcount)  # type: ignore[attr-defined]
        deleted += count
        if count < BATCH:
            return deleted


def every_hour(handlers: JobHandlers, topic: Topic[Purge]) -> None:
    """Schedules ``topic`` (a purge) hourly."""
    handlers.every(topic, cron=HOURLY, payload=lambda due: Purge(due=due))


PURGE_PROCESSED_JOBS = Topic("platform.purge_processed_jobs", Purge)


def register(handlers: JobHandlers, *, retention_seconds: int, schedule: bool) -> None:
    """Called once by the composition root; ``schedule``: run it hourly (housekeeping on)."""
    retention = timedelta(seconds=retention_seconds)
    statement = purge_batches(
        ProcessedJob.message_id, lambda now: ProcessedJob.processed_at < now - retention
    )

    async def purge_processed_jobs(_payload: Purge, job: JobContext) -> None:
        await delete_in_batches(job, statement)

    handlers.register(PURGE_PROCESSED_JOBS, purge_processed_jobs)
    if schedule:
        every_hour(handlers, PURGE_PROCESSED_JOBS)
