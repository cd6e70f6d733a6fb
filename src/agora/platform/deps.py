"""FastAPI dependencies every context shares: the platform and one database session per request."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any, Protocol

from fastapi import Depends, Request
from fastapi.dependencies.models import Dependant
from sqlalchemy.ext.asyncio import AsyncSession

from agora.platform.events import EventHandlers
from agora.platform.jobs.runtime import Jobs
from agora.platform.ports import Platform
from agora.platform.provided import Provided
from agora.platform.uow import UnitOfWork, UnitsOfWork


class PlatformServices(Protocol):
    """What every context's routes need from the composition root."""

    @property
    def platform(self) -> Platform: ...

    @property
    def units_of_work(self) -> UnitsOfWork: ...

    @property
    def jobs(self) -> Jobs: ...


PLATFORM: Provided[PlatformServices] = Provided("the platform")


# `async def` although nothing is awaited: FastAPI would run a plain `def` in a worker thread.
async def get_platform(request: Request) -> Platform:
    return PLATFORM.of(request.app).platform


PlatformDep = Annotated[Platform, Depends(get_platform)]


async def get_jobs(request: Request) -> Jobs:
    return PLATFORM.of(request.app).jobs


JobsDep = Annotated[Jobs, Depends(get_jobs)]


async def get_unit_of_work(request: Request) -> AsyncIterator[UnitOfWork]:
    # one unit of work per request: the service commits it; anything uncommitted rolls back here
    async with PLATFORM.of(request.app).units_of_work() as uow:
        yield uow


UnitOfWorkDep = Annotated[UnitOfWork, Depends(get_unit_of_work)]


async def get_session(uow: UnitOfWorkDep) -> AsyncSession:
    # the unit of work's session: what a route loads (CurrentUser) and what its service writes
    # share one transaction and one pooled connection
    return uow.session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


async def get_events(request: Request) -> EventHandlers:
    # for a write that is one autocommit statement, durable without a unit of work (a favorite)
    return PLATFORM.of(request.app).units_of_work.events


EventsDep = Annotated[EventHandlers, Depends(get_events)]


async def get_read_session(platform: PlatformDep) -> AsyncIterator[AsyncSession]:
    # for routes that only read: no transaction around the statements (see Database)
    async with platform.db.autocommit_sessions() as session:
        yield session


ReadSessionDep = Annotated[AsyncSession, Depends(get_read_session)]


async def public_url(request: Request, platform: PlatformDep) -> str:
    """Where clients reach this server, without a trailing slash: the configured public URL, or
    the scheme and host the request came to (behind a trusted proxy, those it forwarded)."""
    configured = platform.settings.public_url
    return (configured or str(request.base_url)).rstrip("/")


PublicUrl = Annotated[str, Depends(public_url)]


async def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


ClientAddress = Annotated[str, Depends(client_address)]


def depends_on(dependant: Dependant, call: Callable[..., Any]) -> bool:
    """Whether a route (its ``dependant``) depends on ``call``, however deep."""
    return any(sub.call is call or depends_on(sub, call) for sub in dependant.dependencies)
