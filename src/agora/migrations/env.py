"""Alembic environment: async engine from ``AGORA_DATABASE_URL`` (or the URL the caller passes)."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from agora.migrations.schema import include_object, target_metadata
from agora.platform.db import create_engine
from agora.settings import Settings

config = context.config


def _url() -> str:
    return config.get_main_option("sqlalchemy.url") or Settings().database_url


def _configure(connection: Connection | None = None, url: str | None = None) -> None:
    context.configure(
        connection=connection,
        url=url,
        target_metadata=target_metadata,
        include_object=include_object,
        # SQLite cannot ALTER most things in place; batch mode rebuilds the table instead
        render_as_batch=True,
        compare_type=True,
        compare_server_default=True,
    )


def _run_sync(connection: Connection) -> None:
    _configure(connection)
    with context.begin_transaction():
        context.run_migrations()


async def _run_online() -> None:
    engine = create_engine(_url())
    async with engine.connect() as connection:
        await connection.run_sync(_run_sync)
    await engine.dispose()


if context.is_offline_mode():
    _configure(url=_url())
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(_run_online())
