"""The outbox as a queue: claim the due jobs, then finish, retry or bury each.

A row's life: written by a unit of work (``run_at`` = when it may run) → claimed by a runner or
the relay (``leased_until``) → deleted when its handler succeeded, or put back with a later
``run_at`` (exponential backoff with jitter) when it failed, or marked dead (``dead_at``, with
``last_error``) when its attempts are spent. The embedded drain runs claimed rows itself; in
production the relay publishes them (``published_at``) and a worker reports back through the
same functions.

A row is due when it is alive, its ``run_at`` has come and nobody holds a lease on it. Claiming
is one ``UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED) RETURNING``: several processes
and nodes never claim one row twice, and never wait for each other's locks (SQLite has one
writer at a time, so the statement alone is enough there). Every holder takes a lease: a runner
or relay that dies leaves a row that becomes due again when its lease ends. That is also what
rescues a published job whose message was lost: the relay's lease on it lasts ``lease_seconds``
after the broker's confirm (a worker's run must end within it; a redelivered message's start
renews it); a row still there after that is published again (the handlers' idempotency makes a
second copy harmless).
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Self

from sqlalchemy import (
    ColumnElement,
    Integer,
    String,
    Update,
    and_,
    any_,
    bindparam,
    case,
    delete,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY

from agora.platform.db import Database, on_postgresql, utcnow
from agora.platform.outbox import OutboxMessage

ERROR_MAX = 2000


@dataclass(frozen=True, slots=True)
class ClaimedJob:
    id: str
    topic: str
    payload: Any
    attempt: int  # the run this claim is for (1 for the first)
    created_at: datetime

    @property
    def runs_before(self) -> int:
        """Runs started before this one: what the row's ``attempts`` says until it starts."""
        return self.attempt - 1

    @classmethod
    def first_delivery(cls, job_id: str, topic: str, payload: Any, *, runs_before: int) -> Self:
        """A message as RabbitMQ delivers it the first time: run at once, no statement first.

        What the start would check, the run's own statements settle: a copy of a finished job
        changes nothing (``first_time`` finds its record), a failure is recorded only over
        fewer runs (``failed``), and the lease taken at its publish covers the run.
        """
        return cls(job_id, topic, payload, runs_before + 1, utcnow())


@dataclass(frozen=True, slots=True)
class StartRequest:
    """A worker's message for a job: its id, the runs it had when published, redelivered?"""

    job_id: str
    runs_before: int
    redelivered: bool


@dataclass(frozen=True, slots=True)
class OutboxStats:
    backlog: int  # jobs not finished and not dead (delayed, due, published or running)
    oldest_due_seconds: float  # how long the oldest due, unpublished job has been waiting
    dead: int


@dataclass(frozen=True, slots=True)
class Backoff:
    base_seconds: float
    max_seconds: float

    def delay(self, attempt: int) -> float:
        """Seconds before run ``attempt + 1``: doubling per attempt, capped, with jitter so the
        jobs failed by one outage do not all come back at the same moment."""
        ceiling = min(self.max_seconds, self.base_seconds * 2 ** (attempt - 1))
        return random.uniform(ceiling / 2, ceiling)  # noqa: S311 (not for secrets)


def _due(now: datetime, *, waited: timedelta = timedelta(0)) -> ColumnElement[bool]:
    return and_(
        OutboxMessage.dead_at.is_(None),
        OutboxMessage.run_at <= now - waited,
        or_(OutboxMessage.leased_until.is_(None), OutboxMessage.leased_until <= now),
    )


_RETURNED = (
    OutboxMessage.id,
    OutboxMessage.topic,
    OutboxMessage.payload,
    OutboxMessage.attempts,
    OutboxMessage.created_at,
)


def _start(ids: ColumnElement[bool], runs: ColumnElement[bool]) -> Update:
    """A worker's start: built once per dialect, bound per burst of messages."""
    return (
        update(OutboxMessage)
        .where(ids, OutboxMessage.dead_at.is_(None), runs)
        .values(attempts=bindparam("attempts"), leased_until=bindparam("leased_until"))
        .returning(*_RETURNED)
    )


# PostgreSQL takes the lists as two array parameters: one statement text for every burst size
# (an expanding IN is rendered anew for each size, a tenth of the worker's start)
_START_ARRAYS = _start(
    OutboxMessage.id == any_(bindparam("ids", type_=ARRAY(String))),
    OutboxMessage.attempts == any_(bindparam("runs", type_=ARRAY(Integer))),
)
_START_EXPANDING = _start(
    OutboxMessage.id.in_(bindparam("ids", expanding=True)),
    OutboxMessage.attempts.in_(bindparam("runs", expanding=True)),
)


class JobStore:
    def __init__(
        self, db: Database, *, backoff: Backoff, max_attempts: int, lease_seconds: float
    ) -> None:
        self.db = db
        self.backoff = backoff
        self.max_attempts = max_attempts
        self.lease = timedelta(seconds=lease_seconds)

    async def claim_due(
        self,
        limit: int,
        *,
        to_run: bool = True,
        lease_seconds: float | None = None,
        due_for_seconds: float = 0.0,
    ) -> list[ClaimedJob]:
        """Up to ``limit`` due jobs, oldest due first, leased to the caller.

        ``to_run``: the caller runs them now (a run starts: the attempt is counted); otherwise
        it publishes them (the relay), and the worker counts the run when it starts it.
        ``lease_seconds``: how long the caller holds them (``lease_seconds`` of the settings
        when None). ``due_for_seconds``: only jobs due for at least that long.
        """
        now = utcnow()
        lease = self.lease if lease_seconds is None else timedelta(seconds=lease_seconds)
        due = (
            select(OutboxMessage.id)
            .where(_due(now, waited=timedelta(seconds=due_for_seconds)))
            .order_by(OutboxMessage.run_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        values: dict[str, Any] = {"leased_until": now + lease}
        if to_run:
            values["attempts"] = OutboxMessage.attempts + 1
        claim = (
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(due.scalar_subquery()))
            .values(values)
            .returning(*_RETURNED)
        )
        async with self.db.autocommit_connection() as connection:
            rows = (await connection.execute(claim)).all()
        jobs = [
            ClaimedJob(
                row.id, row.topic, row.payload, row.attempts + (0 if to_run else 1), row.created_at
            )
            for row in rows
        ]
        return sorted(jobs, key=lambda job: job.created_at)

    async def mark_published(self, jobs: Sequence[ClaimedJob]) -> None:
        """The broker confirmed ``jobs``: published now, and due again only if still here a lease
        from now (the message lost, or its worker gone without a word)."""
        now = utcnow()
        await self._update_unstarted(jobs, {"published_at": now, "leased_until": now + self.lease})

    async def release(self, jobs: Sequence[ClaimedJob]) -> None:
        """``jobs`` could not be published: due again at once (the relay backs off by itself)."""
        await self._update_unstarted(jobs, {"leased_until": None})

    async def _update_unstarted(self, jobs: Sequence[ClaimedJob], values: dict[str, Any]) -> None:
        # only rows no worker started since the claim: a fast worker may already have run (and
        # even failed and rescheduled) a job before its publisher hears the broker's confirm.
        # Nor rows a worker's transaction holds at this moment (SKIP LOCKED): that job is ending
        # (its row deleted at the commit) or failing (rescheduled then). Waiting for them was a
        # deadlock with a group of jobs (group_commit.py) deleting several of these rows in
        # another order; a row so skipped keeps the claim's short lease.
        by_runs: dict[int, list[str]] = defaultdict(list)  # almost always one key: 0
        for job in jobs:
            by_runs[job.runs_before].append(job.id)
        async with self.db.autocommit_connection() as connection:
            for runs, ids in by_runs.items():
                free = (
                    select(OutboxMessage.id)
                    .where(OutboxMessage.id.in_(ids), OutboxMessage.attempts == runs)
                    .with_for_update(skip_locked=True)
                )
                await connection.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id.in_(free.scalar_subquery()))
                    .values(values)
                )

    async def start(self, job_id: str, *, runs_before: int, redelivered: bool) -> ClaimedJob | None:
        """A worker got the message of ``job_id`` published after ``runs_before`` runs: counts
        this run and leases the job for it, or returns None when this copy must not run.

        It must not when the job is finished or dead, or when another run was counted since the
        message was published (a stale copy: the job was republished, or failed and waits for
        its retry) — unless the broker redelivers it, which it does when the worker that had it
        died: then the run that started is taken for lost, and counted too (a first delivery
        runs without a start of its own, so its run may not be on the row yet).

        The worker asks only for redelivered messages: a first delivery runs at once
        (``ClaimedJob.first_delivery``), its run counted by its end (``first_time`` deletes the
        row) or by ``failed``.
        """
        started = await self.start_many([StartRequest(job_id, runs_before, redelivered)])
        return started.get(job_id)

    async def start_many(self, requests: Sequence[StartRequest]) -> dict[str, ClaimedJob]:
        """``start`` for several messages at once (one statement for the usual case); the jobs
        that may run, by id."""
        groups: dict[tuple[int, bool], list[str]] = defaultdict(list)
        for request in requests:
            groups[request.runs_before, request.redelivered].append(request.job_id)
        leased_until = utcnow() + self.lease
        started: dict[str, ClaimedJob] = {}
        async with self.db.autocommit_connection() as connection:
            start = _START_ARRAYS if on_postgresql(connection) else _START_EXPANDING
            for (runs_before, redelivered), ids in groups.items():
                runs = [runs_before, runs_before + 1] if redelivered else [runs_before]
                # redelivered: the lost run and this one
                attempts = runs_before + (2 if redelivered else 1)
                params = {
                    "ids": ids,
                    "runs": runs,
                    "attempts": attempts,
                    "leased_until": leased_until,
                }
                for row in await connection.execute(start, params):
                    started[row.id] = ClaimedJob(
                        row.id, row.topic, row.payload, row.attempts, row.created_at
                    )
        return started

    async def succeeded(self, job_id: str) -> None:
        async with self.db.autocommit_connection() as connection:
            await connection.execute(delete(OutboxMessage).where(OutboxMessage.id == job_id))

    async def failed(self, job: ClaimedJob, error: str, *, retry: bool = True) -> bool:
        """Records a failed run; the job runs again after its backoff, or — when its attempts are
        spent or ``retry`` is False — becomes a dead letter. True when it died."""
        dies = not retry or job.attempt >= self.max_attempts
        now = utcnow()
        values: dict[str, Any] = {
            "attempts": job.attempt,  # a first delivery's run is counted here
            "last_error": error[:ERROR_MAX],
            "published_at": None,
            "leased_until": None,
        }
        if dies:
            values["dead_at"] = now
        else:
            values["run_at"] = now + timedelta(seconds=self.backoff.delay(job.attempt))
        async with self.db.autocommit_connection() as connection:
            await connection.execute(
                update(OutboxMessage)
                # not a stale copy's failure over a later run's record
                .where(OutboxMessage.id == job.id, OutboxMessage.attempts <= job.attempt)
                .values(values)
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
        async with self.db.autocommit_connection() as connection:
            revived = await connection.execute(
                revive.values(
                    dead_at=None, attempts=0, run_at=utcnow(), leased_until=None, published_at=None
                )
            )
        return int(revived.rowcount)

    async def stats(self) -> OutboxStats:
        """The backlog, the wait of the oldest due job, the dead letters: one statement."""
        now = utcnow()
        alive = OutboxMessage.dead_at.is_(None)
        waiting = and_(_due(now), OutboxMessage.published_at.is_(None))
        async with self.db.autocommit_connection() as connection:
            backlog, oldest, dead = (
                await connection.execute(
                    select(
                        func.coalesce(func.sum(case((alive, 1), else_=0)), 0),
                        func.min(case((waiting, OutboxMessage.run_at), else_=None)),
                        func.coalesce(func.sum(case((alive, 0), else_=1)), 0),
                    )
                )
            ).one()
        age = 0.0 if oldest is None else max(0.0, (now - _aware(oldest)).total_seconds())
        return OutboxStats(backlog=int(backlog), oldest_due_seconds=age, dead=int(dead))


def _aware(moment: datetime | str) -> datetime:
    # func.min() bypasses the column type: SQLite hands back a naive (UTC) value or a string
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment if moment.tzinfo else moment.replace(tzinfo=utcnow().tzinfo)
