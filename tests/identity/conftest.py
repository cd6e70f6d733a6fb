from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from agora.platform.provided import ProvidingApp
from tests.support.apps import ClientFor, clients_for


@pytest.fixture
async def client_for(make_app: Callable[..., ProvidingApp]) -> AsyncIterator[ClientFor]:
    """``await client_for(avatar_max_bytes=2048)``: a client of an app with those settings."""
    async for build in clients_for(make_app):
        yield build
