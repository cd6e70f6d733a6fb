"""A statement run by the driver in autocommit (``platform/driver_writes.py``), on PostgreSQL:
committed as a whole or not at all, with SQLAlchemy's error when it fails; and a cancellation
mid-statement leaves no pooled connection holding its locks."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from agora.container import Container
from agora.platform.driver_writes import DriverTransactions
from agora.platform.provided import ProvidingApp

_ROOM = (
    "INSERT INTO chat_rooms (id, kind, topic, last_seq, created_at)"
    " VALUES ($1, 'public', '', 0, now())"
)
_LOCK = "SELECT FROM chat_rooms WHERE id = 1 FOR UPDATE"


@pytest.fixture
async def transactions(app: ProvidingApp, container: Container) -> DriverTransactions:
    """On the started app's database (emptied; the app closes its pool at the end)."""
    if container.platform.db.engine.dialect.name != "postgresql":
        pytest.skip("the driver's transactions are PostgreSQL's fast path")
    return DriverTransactions(container.platform.db.engine)


async def _rooms(container: Container) -> list[int]:
    async with container.platform.db.engine.connect() as connection:
        return list(await connection.scalars(text("SELECT id FROM chat_rooms ORDER BY id")))


async def _lock_at_once(container: Container) -> None:
    """Room 1's lock, taken without waiting: nobody else holds it."""
    async with container.platform.db.engine.begin() as connection:
        await connection.execute(text("SET LOCAL lock_timeout = '200ms'"))
        await connection.execute(text(_LOCK))


async def test_one_call_in_autocommit_commits_as_a_whole_or_not_at_all(
    container: Container, transactions: DriverTransactions
) -> None:
    two = (
        "INSERT INTO chat_rooms (id, kind, topic, last_seq, created_at)"
        " SELECT i, 'public', '', 0, now() FROM unnest($1::int[]) AS i RETURNING id"
    )
    assert [row[0] for row in await transactions.call(two, [1, 2])] == [1, 2]
    with pytest.raises(IntegrityError):  # 3 is new, 2 is not: neither is written
        await transactions.call(two, [3, 2])
    assert await _rooms(container) == [1, 2]
    await transactions.call(two, [3])  # the connection serves again
    assert await _rooms(container) == [1, 2, 3]


async def test_a_call_cancelled_mid_statement_holds_no_lock_after(
    container: Container, transactions: DriverTransactions
) -> None:
    await transactions.call(_ROOM, 1)
    slow = (
        "WITH locked AS (SELECT id FROM chat_rooms WHERE id = 1 FOR UPDATE)"
        " SELECT pg_sleep(5) FROM locked"
    )
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(transactions.call(slow), 0.3)
    await _lock_at_once(container)
    for room in (4, 5, 6):  # every pooled connection still serves
        await transactions.call(_ROOM, room)
    assert await _rooms(container) == [1, 4, 5, 6]
