"""A statement handed to the driver on a connection SQLAlchemy holds
(``platform/driver_statements.py``) is part of that connection's transaction, even as its first
statement; its parameters go through the columns' processors; its errors are SQLAlchemy's."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache

import pytest
from sqlalchemy import JSON, Integer, String, TextClause, bindparam, func, select, text
from sqlalchemy.exc import IntegrityError

from agora.container import Container
from agora.platform import driver_statements
from agora.platform.db import UTCDateTime
from agora.platform.outbox import OutboxMessage


@cache
def _new_job() -> TextClause:
    """A job's row (the outbox's table: any table would do), its id back."""
    return text(
        "INSERT INTO outbox (id, topic, payload, created_at, run_at, attempts) "
        "VALUES (:id, :topic, :payload, :at, :at, 0) RETURNING id"
    ).bindparams(
        bindparam("id", type_=String),
        bindparam("topic", type_=String),
        bindparam("payload", type_=JSON),
        bindparam("at", type_=UTCDateTime()),
    )


async def _jobs(container: Container) -> list[tuple[str, dict[str, int]]]:
    async with container.platform.db.sessions() as session:
        rows = await session.execute(select(OutboxMessage.id, OutboxMessage.payload))
        return [(row.id, row.payload) for row in rows]


def _values(job_id: str) -> dict[str, object]:
    at = datetime(2026, 12, 7, 21, 0, tzinfo=UTC)
    return {"id": job_id, "topic": "test.driver", "payload": {"n": 1}, "at": at}


async def _two_jobs(container: Container, ids: tuple[str, str], *, commit: bool) -> list[str]:
    """Two jobs written on the driver in one session's transaction (the first of them its first
    statement: SQLAlchemy begins it lazily), then committed or rolled back; the ids back."""
    async with container.platform.db.sessions() as session:
        connection = await session.connection()
        written = [
            row[0]
            for job_id in ids
            for row in await driver_statements.rows(connection, _new_job(), _values(job_id))
        ]
        await (session.commit() if commit else session.rollback())
    return written


@pytest.mark.usefixtures("app")
async def test_a_statement_in_a_transaction_is_rolled_back_with_it_even_as_its_first(
    container: Container,
) -> None:
    assert await _two_jobs(container, ("a" * 32, "b" * 32), commit=False) == ["a" * 32, "b" * 32]
    assert await _jobs(container) == []

    await _two_jobs(container, ("c" * 32, "d" * 32), commit=True)
    # the JSON parameter went through the column's processor
    assert sorted(await _jobs(container)) == [("c" * 32, {"n": 1}), ("d" * 32, {"n": 1})]


@pytest.mark.usefixtures("app")
async def test_a_statement_alone_commits_by_itself(container: Container) -> None:
    db = container.platform.db
    async with db.autocommit_connection() as connection:
        await driver_statements.rows(connection, _new_job(), _values("e" * 32), alone=True)
    assert await _jobs(container) == [("e" * 32, {"n": 1})]


@pytest.mark.usefixtures("app")
async def test_an_error_is_the_one_sqlalchemy_raises_and_the_transaction_goes_on_after_it(
    container: Container,
) -> None:
    db = container.platform.db
    async with db.sessions() as session:
        connection = await session.connection()
        await driver_statements.rows(connection, _new_job(), _values("f" * 32))
        with pytest.raises(IntegrityError):
            await driver_statements.rows(connection, _new_job(), _values("f" * 32))
        await session.rollback()
        count = select(func.count()).select_from(OutboxMessage)
        assert await session.scalar(count) == 0
    statement = select(bindparam("n", type_=Integer) + 1)
    async with db.sessions() as session:
        connection = await session.connection()
        assert [
            tuple(row) for row in await driver_statements.rows(connection, statement, {"n": 1})
        ] == [(2,)]
