"""The outbox as a queue: claim the due jobs, then finish, retry or bury each.

A row's life: written by a unit of work (``run_at`` = when it may run) → claimed by a runner →
deleted when its handler succeeded, or put back with a later ``run_at`` (exponential backoff
with jitter) when it failed, or marked dead (``dead_at``, with ``last_error``) when its attempts
are spent. The embedded drain runs claimed rows itself; in production the relay publishes them
(``published_at``) and a worker reports back through the same functions.

Claiming is one ``UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED) RETURNING``: several
processes and nodes never claim one row twice, and never wait for each other's locks (SQLite
has one writer at a time, so the statement alone is enough there). A claim also pushes the
row's ``run_at`` a lease into the future: if the claimer dies, the row becomes due again then.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, update

from agora.platform.db import Database, utcnow
from agora.platform.outbox import OutboxMessage

ERROR_MAX = 2000


@dataclass(frozen=True, slots=True)
class ClaimedJob:
    id: str
    topic: str
    payload: Any
    attempt: int  # the run this claim is for (1 for the first)
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Backoff:
    base_seconds: float
    max_seconds: float

    def delay(self, attempt: int) -> float:
        """Seconds before run ``attempt + 1``: doubling per attempt, capped, with jitter so the
        jobs failed by one outage do not all come back at the same moment."""
        ceiling = min(self.max_seconds, self.base_seconds * 2 ** (attempt - 1))
        return random.uniform(ceiling / 2, ceiling)  # noqa: S311 (not for secrets)


class JobStore:
    def __init__(
        self, db: Database, *, backoff: Backoff, max_attempts: int, lease_seconds: float
    ) -> None:
        self.db = db
        self.backoff = backoff
        self.max_attempts = max_attempts
        self.lease = timedelta(seconds=lease_seconds)

    async def claim_due(self, limit: int, *, to_run: bool = True) -> list[ClaimedJob]:
        """Up to ``limit`` due jobs, oldest due first, leased to the caller.

        ``to_run``: the caller runs them now (a run starts: the attempt is counted); otherwise
        it publishes them (the relay), and the worker counts the run when it starts it.
        """
        now = utcnow()
        due = (
            select(OutboxMessage.id)
            .where(
                OutboxMessage.dead_at.is_(None),
                OutboxMessage.published_at.is_(None),
                OutboxMessage.run_at <= now,
            )
            .order_by(OutboxMessage.run_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        values: dict[str, Any] = {"run_at": now + self.lease}
        if to_run:
            values["attempts"] = OutboxMessage.attempts + 1
        claim = (
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(due.scalar_subquery()))
            .values(values)
            .returning(
                OutboxMessage.id,
                OutboxMessage.topic,
                OutboxMessage.payload,
                OutboxMessage.attempts,
                OutboxMessage.created_at,
            )
            .execution_options(synchronize_session=False)
        )
        async with self.db.sessions.begin() as session:
            rows = (await session.execute(claim)).all()
        jobs = [
            ClaimedJob(
                row.id, row.topic, row.payload, row.attempts + (0 if to_run else 1), row.created_at
            )
            for row in rows
        ]
        return sorted(jobs, key=lambda job: job.created_at)

    async def succeeded(self, job_id: str) -> None:
        async with self.db.sessions.begin() as session:
            await session.execute(delete(OutboxMessage).where(OutboxMessage.id == job_id))

    async def failed(self, job: ClaimedJob, error: str, *, retry: bool = True) -> bool:
        """Records a failed run; the job runs again after its backoff, or — when its attempts are
        spent or ``retry`` is False — becomes a dead letter. True when it died."""
        dies = not retry or job.attempt >= self.max_attempts
        now = utcnow()
        values: dict[str, Any] = {"last_error": error[:ERROR_MAX], "published_at": None}
        if dies:
            values["dead_at"] = now
        else:
            values["run_at"] = now + timedelta(seconds=self.backoff.delay(job.attempt))
        async with self.db.sessions.begin() as session:
            await session.execute(
                update(OutboxMessage).where(OutboxMessage.id == job.id).values(values)
            )
        return dies

    async def dead_letters(self, limit: int = 100) -> list[OutboxMessage]:
        async with self.db.autocommit_sessions() as session:
            rows = await session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.dead_at.is_not(None))
                .order_by(OutboxMessage.dead_at.desc())
                .limit(limit)
            )
            return list(rows)

    async def retry_dead(self, job_id: str | None = None) -> int:
        """Gives dead letters (one, or all when ``job_id`` is None) a fresh set of attempts."""
        revive = update(OutboxMessage).where(OutboxMessage.dead_at.is_not(None))
        if job_id is not None:
            revive = revive.where(OutboxMessage.id == job_id)
        async with self.db.sessions.begin() as session:
            revived = await session.execute(
                revive.values(dead_at=None, attempts=0, run_at=utcnow(), published_at=None)
            )
        return int(revived.rowcount)  # type: ignore[attr-defined]

    async def backlog(self) -> tuple[int, float]:
        """Jobs waiting (not dead), and the age in seconds of the oldest of them."""
        async with self.db.autocommit_sessions() as session:
            count, oldest = (
                await session.execute(
                    select(func.count(), func.min(OutboxMessage.created_at)).where(
                        OutboxMessage.dead_at.is_(None)
                    )
                )
            ).one()
        age = 0.0 if oldest is None else max(0.0, (utcnow() - _aware(oldest)).total_seconds())
        return int(count), age


def _aware(moment: datetime) -> datetime:
    # func.min() bypasses the column type: SQLite hands back a naive (UTC) value or a string
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment if moment.tzinfo else moment.replace(tzinfo=utcnow().tzinfo)
