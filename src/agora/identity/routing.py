"""Routes that ask for the token before anything else, the body included.

FastAPI decodes a JSON body before it runs any dependency, so an anonymous request with broken
JSON would get a 422 from a route that needs a signed-in user. RealWorld wants the missing token
reported first (401 before 404 and before body validation); this route class does that for every
route that depends on ``required_user_id``.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from agora.identity.deps import required_user_id
from agora.platform.errors import Unauthorized


def _needs_user(dependant: Dependant) -> bool:
    return any(sub.call is required_user_id or _needs_user(sub) for sub in dependant.dependencies)


class TokenFirstRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        if not _needs_user(self.dependant):
            return handler

        async def token_first(request: Request) -> Response:
            if not request.headers.get("authorization"):
                raise Unauthorized("is missing", field="token")
            return await handler(request)

        return token_first
