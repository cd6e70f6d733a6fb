"""The transactional outbox: a job is a row written in the same transaction as its cause.

``uow.outbox.add(SEND_EMAIL, SendEmail(...))`` adds a row to the ``outbox`` table through the
unit of work's session, so the job and the change that caused it commit together or not at all.
Something else moves committed rows on: the server itself on the embedded default, a relay to
RabbitMQ in production (``agora.platform.jobs``).

A ``Topic`` names a kind of job and the Pydantic model of its payload; handlers live with their
context (``<context>/jobs.py``) and are registered in one place (``agora.job_handlers``).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel
from sqlalchemy import JSON, Index, Integer, String, Text, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from agora.platform.db import Base, UTCDateTime, utcnow

P = TypeVar("P", bound=BaseModel)

# a job's id: a UUID's 32 hex digits, made by the writer (it is the handlers' idempotency key)
MESSAGE_ID_LENGTH = 32
TOPIC_MAX = 100


class Topic(Generic[P]):
    """A kind of job: its name on the wire and the schema of its payload."""

    def __init__(self, name: str, payload: type[P]) -> None:
        if not 0 < len(name) <= TOPIC_MAX:
            raise ValueError(f"a topic's name has 1 to {TOPIC_MAX} characters: {name!r}")
        self.name = name
        self.payload = payload

    def __repr__(self) -> str:
        return f"Topic({self.name!r})"

    def parse(self, payload: Any) -> P:
        return self.payload.model_validate(payload)


class OutboxMessage(Base):
    """One job: here until a handler finished it (then deleted) or gave up on it (a dead letter)."""

    __tablename__ = "outbox"

    id: Mapped[str] = mapped_column(String(MESSAGE_ID_LENGTH), primary_key=True)
    topic: Mapped[str] = mapped_column(String(TOPIC_MAX))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # not before this time (a delayed job, a retry after its backoff): when it became due
    run_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # a runner or the relay holds it until then (claimed, published, running); past it, a holder
    # that went silent is taken for lost and the job is due again. NULL: nobody holds it
    leased_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    # set when the broker confirmed it (production); NULL while only in this table
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    # runs started so far; a failed run keeps its error here, a dead letter its last one
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    # set when the job gave up (attempts exhausted, or an error no retry can mend)
    dead_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    # a job that succeeded is deleted: the table holds only work still to do, and dead letters

    # the runners' one question, "what is due?", reads live rows in run_at order
    __table_args__ = (
        Index(
            "ix_outbox_due",
            "run_at",
            postgresql_where=text("dead_at IS NULL"),
            sqlite_where=text("dead_at IS NULL"),
        ),
    )


class Outbox:
    """The jobs a unit of work adds; written with its session, so in its transaction."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        # the topics added since the last commit or rollback (for the metrics and the drain)
        self.added: list[str] = []

    def add(self, topic: Topic[P], payload: P, *, run_at: datetime | None = None) -> str:
        """Adds a job to the transaction and returns its message id."""
        if not isinstance(payload, topic.payload):
            raise TypeError(f"{topic!r} takes {topic.payload.__name__}, not {type(payload)}")
        now = utcnow()
        message_id = uuid.uuid4().hex
        self._session.add(
            OutboxMessage(
                id=message_id,
                topic=topic.name,
                payload=payload.model_dump(mode="json"),
                created_at=now,
                run_at=run_at or now,
            )
        )
        self.added.append(topic.name)
        return message_id
