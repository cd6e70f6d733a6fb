"""Which handler runs each topic, and what a handler is given.

A handler is ``async def handle(payload: SomePayload, job: JobContext) -> None``; it lives with
its context (``<context>/jobs.py``) and the composition root registers it. Delivery is at least
once, so a handler makes its effect once: it opens a unit of work and calls
``await job.first_time(uow)`` — which records the message id in ``processed_jobs`` inside that
same transaction — and does nothing when the job was done before. The runner may put that unit
of work in one transaction with other jobs' (``group_commit.py``); a handler notices only that it
may run again, alone, when a neighbour's failure rolled its work back, which delivering at least
once allows anyway.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy import (
    Delete,
    Executable,
    Index,
    String,
    any_,
    bindparam,
    delete,
    exists,
    func,
    select,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import Mapped, mapped_column

from agora.platform.db import Base, UTCDateTime, on_postgresql, utcnow
from agora.platform.jobs.group_commit import GroupCommit, Seat
from agora.platform.jobs.schedule import Periodic
from agora.platform.outbox import MESSAGE_ID_LENGTH, OutboxMessage, Topic
from agora.platform.uow import UnitOfWork, UnitsOfWork

P = TypeVar("P", bound=BaseModel)


class ProcessedJob(Base):
    """A job whose effect is committed: its message id, the idempotency key."""

    __tablename__ = "processed_jobs"

    message_id: Mapped[str] = mapped_column(String(MESSAGE_ID_LENGTH), primary_key=True)
    processed_at: Mapped[Any] = mapped_column(UTCDateTime())

    # the hourly purge deletes by age (``housekeeping.py``)
    __table_args__ = (Index("ix_processed_jobs_processed_at", "processed_at"),)


class UnknownTopic(Exception):
    """No handler for the topic: retrying cannot help, the job is a dead letter at once."""


class BadPayload(Exception):
    """The payload does not match its topic's schema: retrying cannot help either."""


@dataclass(slots=True)
class JobContext:
    message_id: str
    topic: str
    attempt: int  # 1 for the first run
    units_of_work: UnitsOfWork
    # the job's first unit of work joins a group, which commits with one COMMIT
    # (``group_commit.py``); None: every unit of work is a transaction of its own
    group_commit: GroupCommit | None = None
    # set by first_time: the job leaves the outbox in the handler's own transaction
    finished_in_transaction: bool = False
    _seat: Seat | None = None

    def unit_of_work(self) -> AbstractAsyncContextManager[UnitOfWork]:
        """The job's transaction: ``async with job.unit_of_work() as uow``. The first one may be
        a share of a group's (its commit returns once the group committed); any later one is a
        transaction of its own."""
        if self.group_commit is not None and self._seat is None:
            self._seat = self.group_commit.seat()
            return self._seat
        return self.units_of_work()

    @property
    def run_alone(self) -> bool:
        """Whether its work was rolled back with other jobs' (their failure, or the group's):
        this run decides nothing about the job, which must run again alone."""
        return self._seat is not None and self._seat.run_alone

    async def first_time(self, uow: UnitOfWork) -> bool:
        """Records this job as processed in ``uow``'s transaction; False if it already was.

        Commit ``uow`` with the job's effect: both are kept, or neither, so a job delivered
        again finds its record exactly when its effect happened. The same transaction removes
        the job from the outbox: its effect, its record and its end are one commit (and the
        runner has no transaction of its own left to make).
        """
        # a first run in a group: its record goes with the group's others, in one statement at
        # the COMMIT (were the job done before, the group rolls back and it runs alone)
        seat = self._seat
        if self.attempt == 1 and seat is not None and seat.finish_at_commit(uow, self.message_id):
            uow.after_commit(self._finished)
            return True
        params = {"message_id": self.message_id, "processed_at": utcnow()}
        # Core statements on the transaction's own connection: no ORM bookkeeping needed
        connection = await uow.session.connection()
        if on_postgresql(uow.session):
            # one statement, one round trip: the DELETE rides along as a data-modifying CTE
            recorded = await connection.execute(_record_and_finish(), params)
        else:
            recorded = await connection.execute(_record(sqlite_insert), params)
            await connection.execute(_finish(), params)
        uow.after_commit(self._finished)
        return bool(recorded.rowcount)

    async def write_at_commit(
        self, uow: UnitOfWork, statement: Executable, params: dict[str, Any]
    ) -> None:
        """Runs a write whose result the handler does not need (no RETURNING, no rowcount) in
        ``uow``'s transaction. In a group it waits for the group's COMMIT and goes with the
        other jobs' writes of the same ``statement`` (built once) in one round trip; a failure
        there rolls the group back and the job runs again alone, where it runs at once."""
        seat = self._seat
        if seat is not None and seat.write_at_commit(uow, statement, params):
            return
        connection = await uow.session.connection()
        await connection.execute(statement, params)

    async def _finished(self) -> None:
        self.finished_in_transaction = True

    async def done_before(self) -> bool:
        """Whether this job's effect was committed already (it is delivered again).

        For a handler whose effect leaves the database (a mail sent), asked before that effect;
        ``first_time`` records it once done. Two deliveries at the same moment may both do it:
        what leaves the database is at least once.
        """
        async with self.units_of_work() as uow:
            done = await uow.session.scalar(
                select(exists().where(ProcessedJob.message_id == self.message_id))
            )
        return bool(done)


# built once (see "Statements built once" in docs/architecture.md): every job runs them


@functools.cache
def _record(insert: Callable[[Any], Any]) -> Any:
    return (
        insert(ProcessedJob)
        .values(message_id=bindparam("message_id"), processed_at=bindparam("processed_at"))
        .on_conflict_do_nothing()
    )


@functools.cache
def _finish() -> Delete:
    return delete(OutboxMessage).where(OutboxMessage.id == bindparam("message_id"))


@functools.cache
def _record_and_finish() -> Any:
    return _record(postgresql_insert).add_cte(_finish().cte("finished"))


_IDS = bindparam("ids", type_=ARRAY(String))


@functools.cache
def _record_and_finish_all() -> Any:
    """PostgreSQL: records the jobs of ``ids`` as processed and deletes their rows; returns the
    ids that were not recorded before."""
    return (
        postgresql_insert(ProcessedJob)
        .from_select(
            ["message_id", "processed_at"],
            select(func.unnest(_IDS), bindparam("processed_at", type_=UTCDateTime())),
        )
        .on_conflict_do_nothing()
        .returning(ProcessedJob.message_id)
        .add_cte(delete(OutboxMessage).where(OutboxMessage.id == any_(_IDS)).cte("finished"))
    )


async def finish_jobs(connection: AsyncConnection, ids: list[str]) -> int:
    """A group's ``first_time`` for all its first runs at once (``GroupCommit``'s ``finish``,
    PostgreSQL): how many of ``ids`` were not processed before."""
    # sorted: two groups deleting the same rows (copies of one message) lock them in one order
    params = {"ids": sorted(ids), "processed_at": utcnow()}
    return len((await connection.execute(_record_and_finish_all(), params)).all())


JobHandler = Callable[[P, JobContext], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class _Registered:
    topic: Topic[Any]
    handler: JobHandler[Any]


class JobHandlers:
    """One handler per topic, registered once at start-up by the composition root."""

    def __init__(self) -> None:
        self._by_topic: dict[str, _Registered] = {}
        self.periodic: list[Periodic] = []

    def register(self, topic: Topic[P], handler: JobHandler[P]) -> None:
        if topic.name in self._by_topic:
            raise ValueError(f"{topic!r} has a handler already")
        self._by_topic[topic.name] = _Registered(topic, handler)

    def every(
        self,
        topic: Topic[P],
        *,
        payload: Callable[[datetime], P],
        seconds: float | None = None,
        cron: str | None = None,
    ) -> None:
        """Runs ``topic`` every ``seconds`` or on the ``cron`` expression (UTC), once per due
        time across every node; ``payload(due_time)`` makes each occurrence's payload. The
        topic's handler is registered with ``register`` like any other."""
        if any(job.topic.name == topic.name for job in self.periodic):
            raise ValueError(f"{topic!r} is periodic already")
        self.periodic.append(Periodic(topic, payload, seconds=seconds, cron=cron))

    @property
    def topics(self) -> list[str]:
        return sorted(self._by_topic)

    async def run(self, *, payload: Any, context: JobContext) -> None:
        registered = self._by_topic.get(context.topic)
        if registered is None:
            raise UnknownTopic(f"no handler for the topic {context.topic!r}")
        try:
            parsed = registered.topic.parse(payload)
        except ValidationError as exc:
            raise BadPayload(f"the payload does not match {context.topic!r}: {exc}") from None
        await registered.handler(parsed, context)
