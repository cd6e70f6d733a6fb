"""What the composition root hands to the routes, typed (the pattern of aiohttp's ``AppKey``).

A context declares what its routes need as a ``Provided`` slot typed with a Protocol of its own
(``IDENTITY: Provided[IdentityServices]``). The root builds everything once (``agora.container``)
and fills each slot when it builds the app: ``IDENTITY.provide(app, container)``, where mypy
checks that the container has what the Protocol asks for. A route reads its slot through the
dependency ``IDENTITY.get``, and sees only what its context asked for. Nothing else rides on the
app: no untyped ``app.state``.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar, cast

from fastapi import FastAPI, Request

T = TypeVar("T")


class ProvidingApp(FastAPI):
    """FastAPI, carrying what the root provided for its routes."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.provided: dict[Provided[Any], object] = {}


class Provided(Generic[T]):
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"Provided({self.name!r})"

    def provide(self, app: ProvidingApp, value: T) -> None:
        app.provided[self] = value

    def of(self, app: ProvidingApp) -> T:
        try:
            return cast(T, app.provided[self])
        except (AttributeError, KeyError):  # another app, or the root did not provide it
            raise LookupError(f"{self.name} was not provided to this app") from None

    # `async def` although nothing is awaited: FastAPI would run a plain `def` in a worker thread
    async def get(self, request: Request) -> T:
        """The slot's value, as a FastAPI dependency: ``Depends(IDENTITY.get)``."""
        return self.of(request.app)
