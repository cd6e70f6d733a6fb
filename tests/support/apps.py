"""Apps under test: each on a container of its own, and clients of started apps."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any, Protocol

from httpx import ASGITransport, AsyncClient

from agora.platform.deps import PLATFORM
from agora.platform.events import EventHandlers
from agora.platform.ports import Platform
from agora.platform.provided import ProvidingApp
from tests.support.database import empty_tables

BASE_URL = "http://test"


def platform_of(app: ProvidingApp) -> Platform:
    """The platform an app was built on (its database, cache, ...)."""
    return PLATFORM.of(app).platform


def events_of(app: ProvidingApp) -> EventHandlers:
    """The app's event handlers: ``await events_of(app).publish(...)`` after a write by hand."""
    return PLATFORM.of(app).units_of_work.events


def client_of(app: ProvidingApp) -> AsyncClient:
    """An HTTP client that calls the app in process; use with ``async with``."""
    return AsyncClient(transport=ASGITransport(app=app), base_url=BASE_URL)


class ClientFor(Protocol):
    def __call__(self, *, clean: bool = True, **overrides: Any) -> Awaitable[AsyncClient]: ...


async def clients_for(make_app: Callable[..., ProvidingApp]) -> AsyncIterator[ClientFor]:
    """Yields ``client_for(**settings)``: a client of a fresh, started app; all stopped at the end.

    ``clean=False`` skips emptying the tables (for an app whose database is unreachable on purpose).
    """
    async with AsyncExitStack() as stack:

        async def client_for(*, clean: bool = True, **overrides: Any) -> AsyncClient:
            app = make_app(**overrides)
            if clean:
                await empty_tables(platform_of(app).db)
            await stack.enter_async_context(app.router.lifespan_context(app))
            return await stack.enter_async_context(client_of(app))

        yield client_for
