"""Running an app built with non-default settings, the way the shared ``client`` fixture does."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any, Protocol

from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from sqlalchemy import delete

from agora.migrations.schema import target_metadata
from agora.platform.container import Platform


class ClientFor(Protocol):
    def __call__(self, *, clean: bool = True, **overrides: Any) -> Awaitable[AsyncClient]: ...


async def empty_tables(app: FastAPI) -> None:
    platform: Platform = app.state.platform
    async with platform.db.engine.begin() as connection:
        for table in reversed(target_metadata.sorted_tables):
            await connection.execute(delete(table))


async def clients_for(make_app: Callable[..., FastAPI]) -> AsyncIterator[ClientFor]:
    """Yields ``client_for(**settings)``: a client of a fresh, started app; all stopped at the end.

    ``clean=False`` skips emptying the tables (for an app whose database is unreachable on purpose).
    """
    async with AsyncExitStack() as stack:

        async def client_for(*, clean: bool = True, **overrides: Any) -> AsyncClient:
            app = make_app(**overrides)
            if clean:
                await empty_tables(app)
            await stack.enter_async_context(app.router.lifespan_context(app))
            return await stack.enter_async_context(
                AsyncClient(transport=ASGITransport(app=app), base_url="http://test")
            )

        yield client_for
