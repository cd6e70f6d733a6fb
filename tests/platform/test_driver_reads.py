"""The driver's reads (``platform/driver_reads.py``) answer what SQLAlchemy answers for the same
statement, on the database under test; on PostgreSQL, neither a connection the server dropped
nor a read cancelled mid-way leaves the pool unusable."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime

import pytest
from sqlalchemy import Float, Integer, bindparam, func, select, text

from agora.chat import log
from agora.chat.models import ChatEvent, Room
from agora.container import Container
from agora.platform.driver_reads import DriverReads
from agora.platform.provided import ProvidingApp


@pytest.fixture
async def reads(app: ProvidingApp, container: Container) -> DriverReads:
    """On the started app's database (emptied; the app closes its pool at the end)."""
    return DriverReads(container.platform.db.engine)


async def test_rows_are_what_sqlalchemy_reads_for_the_same_statement(
    container: Container, reads: DriverReads
) -> None:
    db = container.platform.db
    async with db.sessions() as session:
        room = Room(kind="public", name="general", last_seq=3)
        session.add(room)
        await session.flush()
        at = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)
        for seq in (1, 2, 3):
            session.add(ChatEvent(room_id=room.id, seq=seq, kind="message", data={}, created_at=at))
        await session.commit()
        room_id = room.id
    statement = log.after_as_text()  # a replay's page: a join, a cast, a bound LIMIT
    params = {"limit": 5, "after": 1, "room": room_id}  # in no particular order
    async with db.sessions() as session:
        expected = [tuple(row) for row in await session.execute(statement, params)]
    got = await reads.rows(statement, params)
    assert got == expected
    assert [row[0] for row in got] == [2, 3]
    assert all(row[2] == at for row in got)
    assert await reads.first(statement, {**params, "after": 3}) is None


async def test_a_connection_the_server_dropped_is_not_handed_out_again(
    container: Container, reads: DriverReads
) -> None:
    db = container.platform.db
    if db.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's connections (SQLite's are files)")
    statement = select(Room.id).where(Room.id == bindparam("room", type_=Integer))
    assert await reads.rows(statement, {"room": 1}) == []
    async with db.engine.connect() as other:
        # every other connection of this database, the pooled one of the read above included
        await other.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
        await other.commit()
    with contextlib.suppress(Exception):  # the read that meets the dropped connection may fail
        await reads.rows(statement, {"room": 1})
    assert await reads.rows(statement, {"room": 1}) == []  # and the pool threw it away


async def test_a_read_cancelled_mid_way_leaves_the_pool_usable(
    container: Container, reads: DriverReads
) -> None:
    if container.platform.db.engine.dialect.name != "postgresql":
        pytest.skip("a PostgreSQL statement that runs for a while")
    slow = select(func.pg_sleep(bindparam("seconds", type_=Float)))
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(reads.rows(slow, {"seconds": 2.0}), 0.2)
    statement = select(Room.id).where(Room.id == bindparam("room", type_=Integer))
    for _ in range(3):
        assert await reads.rows(statement, {"room": 1}) == []
