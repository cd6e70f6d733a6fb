"""Test databases: emptied between tests, or made for one test and dropped after it.

A throwaway database is a SQLite file in the test's directory, or, when
``AGORA_TEST_DATABASE_URL`` is set (CI's PostgreSQL tier), a database of its own named
``agora_e2e_<random>`` on that server. So results never depend on what earlier tests left behind.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg
from sqlalchemy import delete, text
from sqlalchemy.engine import make_url

from agora.migrations.schema import target_metadata
from agora.platform.db import Database
from tests.support.config import TEST_DATABASE_URL

LOCK_WAIT_DEADLINE_SECONDS = 10.0


async def someone_waits_for_a_lock(db: Database) -> None:
    """Until a session of this PostgreSQL database waits for a lock (a request's statement has
    met a row that a transaction the test holds open has written)."""
    waiting = text(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    deadline = time.monotonic() + LOCK_WAIT_DEADLINE_SECONDS
    async with db.autocommit_connection() as connection:
        while not await connection.scalar(waiting):
            assert time.monotonic() < deadline, "the request never waited for the lock"
            await asyncio.sleep(0.01)  # polling a condition, bounded by the deadline


async def empty_tables(db: Database) -> None:
    """Every table emptied, children first: the schema stays migrated."""
    async with db.engine.begin() as connection:
        for table in reversed(target_metadata.sorted_tables):
            await connection.execute(delete(table))


async def _on_maintenance_db(server_url: str, statement: str) -> None:
    admin = make_url(server_url).set(drivername="postgresql", database="postgres")
    connection = await asyncpg.connect(admin.render_as_string(hide_password=False))
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def ensure_database(url: str) -> bool:
    """Creates the PostgreSQL database ``url`` names unless it exists; True when it was created.
    Synchronous on purpose (it calls ``asyncio.run``)."""
    name = make_url(url).database
    try:
        asyncio.run(_on_maintenance_db(url, f'CREATE DATABASE "{name}"'))
    except asyncpg.DuplicateDatabaseError:
        return False
    return True


@contextmanager
def fresh_database(directory: Path, server_url: str | None = TEST_DATABASE_URL) -> Iterator[str]:
    """Yields the URL of a new, empty database that is dropped on exit.

    ``server_url`` names a PostgreSQL server (any database on it); None means a SQLite file in
    ``directory``. The default follows ``AGORA_TEST_DATABASE_URL``. Synchronous on purpose (it
    calls ``asyncio.run``): use it from sync tests and fixtures.
    """
    if server_url is None:
        yield f"sqlite+aiosqlite:///{directory / f'agora-{uuid.uuid4().hex[:8]}.db'}"
        return
    name = f"agora_e2e_{uuid.uuid4().hex[:12]}"
    asyncio.run(_on_maintenance_db(server_url, f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(
            _on_maintenance_db(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        )
