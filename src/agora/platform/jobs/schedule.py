"""Periodic jobs: every N seconds or on a cron expression, once per due time across all nodes.

A periodic job is registered with its topic (``JobHandlers.every(topic, seconds=60,
payload=...)`` or ``cron="*/5 * * * *"``); its handler is registered as any other. Every
runner loop (the embedded drain, the relay) calls ``Scheduler.tick`` about once a second, and a
tick writes the latest due occurrence of each periodic job into the outbox, where it runs like
any job (retries, dead letters, metrics).

Exactly once per due time, however many nodes tick: the ``periodic_jobs`` row of the topic
moves its ``last_due_at`` forward with a conditional ``UPDATE`` (one writer wins; the others
update nothing and write nothing), and the occurrence's message id is derived from (topic, due
time), inserted with ``ON CONFLICT DO NOTHING`` besides. Occurrences missed while no runner was
up are not replayed one by one: the next tick writes the latest one (as cron does).
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog
from croniter import croniter
from pydantic import BaseModel
from sqlalchemy import String, update
from sqlalchemy.orm import Mapped, mapped_column

from agora.platform.db import Base, Database, UTCDateTime, dialect_insert
from agora.platform.outbox import TOPIC_MAX, OutboxMessage, Topic

log = structlog.get_logger(__name__)

# the namespace of the occurrences' message ids (uuid5 of "topic@due time")
OCCURRENCES = uuid.UUID("6f1c2b0e-4a57-4d8e-9a43-0b7f61e2c9d5")
NEVER = datetime(1970, 1, 1, tzinfo=UTC)


class PeriodicJobRun(Base):
    """The last due time of a periodic job that was written to the outbox."""

    __tablename__ = "periodic_jobs"

    topic: Mapped[str] = mapped_column(String(TOPIC_MAX), primary_key=True)
    last_due_at: Mapped[datetime] = mapped_column(UTCDateTime())


@dataclass(frozen=True, slots=True)
class Periodic:
    topic: Topic[Any]
    # the payload of the occurrence due at the given time
    payload: Callable[[datetime], BaseModel]
    seconds: float | None = None
    cron: str | None = None

    def __post_init__(self) -> None:
        if (self.seconds is None) == (self.cron is None):
            raise ValueError(f"{self.topic!r}: give either seconds or cron")
        if self.seconds is not None and not self.seconds >= 1:
            raise ValueError(f"{self.topic!r}: every {self.seconds} s is too often (at least 1)")
        if self.cron is not None and not croniter.is_valid(self.cron):
            raise ValueError(f"{self.topic!r}: not a cron expression: {self.cron!r}")

    def last_due(self, now: datetime) -> datetime:
        """The latest due time at or before ``now``."""
        if self.seconds is not None:
            # multiples of the period since the epoch: every node computes the same times
            return datetime.fromtimestamp(
                math.floor(now.timestamp() / self.seconds) * self.seconds, UTC
            )
        assert self.cron is not None
        due: datetime = croniter(self.cron, now).get_prev(datetime)
        return due.astimezone(UTC)

    def message_id(self, due: datetime) -> str:
        return uuid.uuid5(OCCURRENCES, f"{self.topic.name}@{due.isoformat()}").hex


class Scheduler:
    def __init__(self, db: Database, periodic: Sequence[Periodic]) -> None:
        self.db = db
        self.periodic = periodic

    async def tick(self, now: datetime) -> list[str]:
        """Writes the occurrences due by ``now`` that no one wrote yet; their topics."""
        written: list[str] = []
        for job in self.periodic:
            if await self._write_due(job, now):
                written.append(job.topic.name)
        return written

    async def _write_due(self, job: Periodic, now: datetime) -> bool:
        due = job.last_due(now)
        async with self.db.sessions.begin() as session:
            insert = dialect_insert(session)
            await session.execute(
                insert(PeriodicJobRun)
                .values(topic=job.topic.name, last_due_at=NEVER)
                .on_conflict_do_nothing()
            )
            moved = await session.execute(
                update(PeriodicJobRun)
                .where(PeriodicJobRun.topic == job.topic.name, PeriodicJobRun.last_due_at < due)
                .values(last_due_at=due)
            )
            if not moved.rowcount:  # type: ignore[attr-defined]
                return False  # this due time is written already (here or by another node)
            payload = job.payload(due)
            if not isinstance(payload, job.topic.payload):
                raise TypeError(f"{job.topic!r} takes {job.topic.payload.__name__}")
            await session.execute(
                insert(OutboxMessage)
                .values(
                    id=job.message_id(due),
                    topic=job.topic.name,
                    payload=payload.model_dump(mode="json"),
                    created_at=now,
                    run_at=due,
                    attempts=0,
                )
                .on_conflict_do_nothing()
            )
        log.info("periodic job due", topic=job.topic.name, due=due.isoformat())
        return True
