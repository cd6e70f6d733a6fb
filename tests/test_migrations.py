"""The Alembic migrations build exactly the schema the models describe, on SQLite and PostgreSQL,
and can be undone and redone: upgrade base→head, downgrade head→base, upgrade again.

Each test gets a new database (PostgreSQL: its own ``agora_e2e_*`` database on the server of
``AGORA_TEST_DATABASE_URL``, dropped afterwards). ``upgrade()`` runs ``asyncio.run`` inside the
Alembic environment, so these tests are synchronous.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from agora.migrations.runner import alembic_config, downgrade, upgrade
from agora.migrations.schema import include_object, target_metadata
from agora.platform.db import create_engine
from tests.support.config import TEST_DATABASE_URL
from tests.support.database import fresh_database

T = TypeVar("T")
APP_TABLES = set(target_metadata.tables)


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "postgresql" and TEST_DATABASE_URL is None:
        pytest.skip("AGORA_TEST_DATABASE_URL is not set: PostgreSQL is tested in CI's second tier")
    server = TEST_DATABASE_URL if request.param == "postgresql" else None
    with fresh_database(tmp_path, server) as url:
        yield url


def _on_connection(url: str, work: Callable[[Connection], T]) -> T:
    async def run() -> T:
        engine = create_engine(url)
        try:
            async with engine.connect() as connection:
                return await connection.run_sync(work)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _tables(url: str) -> set[str]:
    """The tables, but for the search's full-text indexes (SQLite's FTS5 tables)."""

    def tables(connection: Connection) -> set[str]:
        names = inspect(connection).get_table_names()
        return {name for name in names if include_object(None, name, "table", True, None)}

    return _on_connection(url, tables)


def _current_revision(url: str) -> str | None:
    return _on_connection(
        url, lambda connection: MigrationContext.configure(connection).get_current_revision()
    )


def _drift(url: str) -> list[Any]:
    def compare(connection: Connection) -> list[Any]:
        # the same comparison options as the Alembic environment (src/agora/migrations/env.py)
        context = MigrationContext.configure(
            connection,
            opts={
                "compare_type": True,
                "compare_server_default": True,
                "include_object": include_object,
            },
        )
        diff: list[Any] = compare_metadata(context, target_metadata)
        return diff

    return _on_connection(url, compare)


def test_upgrade_downgrade_and_upgrade_again(empty_database: str) -> None:
    head = ScriptDirectory.from_config(alembic_config(empty_database)).get_current_head()
    assert head is not None

    upgrade(empty_database)
    assert _tables(empty_database) == APP_TABLES | {"alembic_version"}
    assert _current_revision(empty_database) == head

    downgrade(empty_database, "base")
    assert _tables(empty_database) - {"alembic_version"} == set()
    assert _current_revision(empty_database) is None

    upgrade(empty_database)
    assert _tables(empty_database) == APP_TABLES | {"alembic_version"}
    assert _current_revision(empty_database) == head


def test_migrations_match_the_models(empty_database: str) -> None:
    """Autogenerate would write an empty migration: no table, column, index or type drift."""
    upgrade(empty_database)
    drift = _drift(empty_database)
    assert drift == [], "the models and the migrations disagree:\n" + "\n".join(map(str, drift))
