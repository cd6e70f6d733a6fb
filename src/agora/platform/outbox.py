"""The transactional outbox: a job is a row written in the same transaction as its cause.

``uow.outbox.add(SEND_EMAIL, SendEmail(...))`` adds a row to the ``outbox`` table in the unit of
work's transaction, so the job and the change that caused it commit together or not at all. The
rows wait in memory and are written by one Core ``INSERT`` just before the commit
(``Outbox.write``): the ORM's flush would cost the committing request more than its own change
(a third of a job's cost on the committing side, measured by ``make bench``).
Something else moves committed rows on: the server itself on the embedded default, a relay to
RabbitMQ in production (``agora.platform.jobs``).

A ``Topic`` names a kind of job and the Pydantic model of its payload; handlers live with their
context (``<context>/jobs.py``) and are registered in one place (``agora.job_handlers``).
"""

from __future__ import annotations

import functools
import uuid
from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel
from sqlalchemy import JSON, Dialect, Index, Insert, Integer, String, Text, insert, text
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import Mapped, mapped_column

from agora.platform.db import Base, UTCDateTime, utcnow
from agora.platform.driver_writes import raise_as_sqlalchemy

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
    """The jobs a unit of work adds; written on its transaction's connection."""

    def __init__(self) -> None:
        self._rows: list[dict[str, Any]] = []

    @property
    def pending(self) -> bool:
        """Whether jobs were added since the last write or discard."""
        return bool(self._rows)

    def add(self, topic: Topic[P], payload: P, *, run_at: datetime | None = None) -> str:
        """Adds a job to the transaction and returns its message id."""
        if not isinstance(payload, topic.payload):
            raise TypeError(f"{topic!r} takes {topic.payload.__name__}, not {type(payload)}")
        now = utcnow()
        message_id = uuid.uuid4().hex
        self._rows.append(
            {
                "id": message_id,
                "topic": topic.name,
                "payload": payload.model_dump(mode="json"),
                "created_at": now,
                "run_at": run_at or now,
            }
        )
        return message_id

    async def write(self, connection: AsyncConnection) -> list[str]:
        """Writes the jobs added so far (the unit of work calls it before committing) on
        ``connection``, in its transaction; their topics."""
        rows, self._rows = self._rows, []
        if rows:
            # Core, not the ORM: no bookkeeping for rows nobody reads here
            await connection.execute(_INSERT, rows)
        return [row["topic"] for row in rows]

    async def write_alone(self, connection: AsyncConnection) -> list[str]:
        """Writes the jobs added so far as the only statement of their transaction, on an
        autocommit ``connection`` (one INSERT is atomic by itself); their topics. On PostgreSQL
        the INSERT goes to the driver itself (``_DriverInsert``)."""
        if connection.dialect.name != "postgresql":
            return await self.write(connection)
        rows, self._rows = self._rows, []
        if rows:
            await _driver_insert(connection.dialect).run(connection, rows)
        return [row["topic"] for row in rows]

    def discard(self) -> None:
        """Forgets the jobs added (the transaction is rolled back)."""
        self._rows = []


class _DriverInsert:
    """The outbox's INSERT handed to asyncpg on a pooled connection, past SQLAlchemy's execution
    (its context, its result): a request whose only write is its jobs (and the benchmark's
    committers) pays 73 µs of CPU for it instead of 141 µs through Core (measured: 24 tasks,
    3,000 INSERTs each way). The columns' bind processing stays SQLAlchemy's (the JSON payload
    serialised, the times checked as UTC), and so do its errors: a driver's error is raised as
    the ``DBAPIError`` SQLAlchemy would raise, and a connection found closed is invalidated, so
    an outage still reads as one (``db_outages.py``) and the pool throws the connection away.
    """

    def __init__(self, dialect: Dialect) -> None:
        table = OutboxMessage.__table__
        # what ``Outbox.add`` fills in, and the columns' constant defaults (no attempt yet)
        self.columns = [
            column
            for column in table.columns
            if column.key in _ADDED or (column.default is not None and column.default.is_scalar)
        ]
        self.defaults = {
            column.key: getattr(column.default, "arg", None)
            for column in self.columns
            if column.key not in _ADDED
        }
        self.processors = [
            column.type.dialect_impl(dialect).bind_processor(dialect) for column in self.columns
        ]
        quote = dialect.identifier_preparer
        names = ", ".join(quote.quote(column.name) for column in self.columns)
        places = ", ".join(f"${number}" for number in range(1, len(self.columns) + 1))
        self.sql = f"INSERT INTO {quote.format_table(table)} ({names}) VALUES ({places})"  # noqa: S608 (no value in it)

    def _args(self, row: dict[str, Any]) -> tuple[Any, ...]:
        values = {**self.defaults, **row}
        return tuple(
            values[column.key] if process is None else process(values[column.key])
            for column, process in zip(self.columns, self.processors, strict=True)
        )

    async def run(self, connection: AsyncConnection, rows: list[dict[str, Any]]) -> None:
        args = [self._args(row) for row in rows]
        raw = await connection.get_raw_connection()
        driver = raw.driver_connection
        assert driver is not None  # a checked-out connection has its driver's
        try:
            if len(args) == 1:
                await driver.execute(self.sql, *args[0])
            else:
                await driver.executemany(self.sql, args)  # atomic: every row or none
        except Exception as exc:
            await raise_as_sqlalchemy(connection, exc, self.sql)


@functools.cache
def _driver_insert(dialect: Dialect) -> _DriverInsert:
    return _DriverInsert(dialect)


# the columns ``Outbox.add`` fills in
_ADDED = frozenset({"id", "topic", "payload", "created_at", "run_at"})


# built once: a list of rows runs as one multi-row INSERT (SQLAlchemy's "insertmanyvalues");
# the columns not given take their defaults (not leased, not published, no attempt yet)
_INSERT: Insert = insert(OutboxMessage.__table__)  # type: ignore[arg-type]
