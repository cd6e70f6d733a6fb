"""A transaction run by the driver (``platform/driver_writes.py``), on PostgreSQL: committed when
its block ends; rolled back, with SQLAlchemy's error, when it raises; and neither a failure nor a
cancellation mid-statement leaves a pooled connection inside the transaction, holding its locks."""

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


async def test_what_the_block_wrote_is_committed_with_it(
    container: Container, transactions: DriverTransactions
) -> None:
    async with transactions.begin("SELECT 1") as driver:
        await driver.execute(_ROOM, 1)
        await driver.execute(_ROOM, 2)
    assert await _rooms(container) == [1, 2]


async def test_a_failed_statement_rolls_everything_back_and_raises_sqlalchemys_error(
    container: Container, transactions: DriverTransactions
) -> None:
    async with transactions.begin("SELECT 1") as driver:
        await driver.execute(_ROOM, 1)

    async def twice() -> None:
        async with transactions.begin(_LOCK) as driver:
            await driver.execute(_ROOM, 2)
            await driver.execute(_ROOM, 1)  # the same id again

    with pytest.raises(IntegrityError):  # what a session would raise: not a driver's error
        await twice()
    assert await _rooms(container) == [1]
    await _lock_at_once(container)  # the failed transaction's lock went with it
    async with transactions.begin(_LOCK) as driver:  # and its connection serves again
        await driver.execute(_ROOM, 3)
    assert await _rooms(container) == [1, 3]


async def test_a_transaction_cancelled_mid_statement_holds_no_lock_after(
    container: Container, transactions: DriverTransactions
) -> None:
    async with transactions.begin("SELECT 1") as driver:
        await driver.execute(_ROOM, 1)

    async def slow() -> None:
        async with transactions.begin(_LOCK) as driver:
            await driver.execute(_ROOM, 2)
            await driver.execute("SELECT pg_sleep(5)")

    with pytest.raises(TimeoutError):
        await asyncio.wait_for(slow(), 0.3)
    await _lock_at_once(container)
    assert await _rooms(container) == [1]
    for room in (4, 5, 6):  # every pooled connection still serves
        async with transactions.begin(_LOCK) as driver:
            await driver.execute(_ROOM, room)
    assert await _rooms(container) == [1, 4, 5, 6]


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
