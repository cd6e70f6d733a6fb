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
from fastapi.routing import APIRoute

from agora.identity.deps import required_user_id
from agora.platform.deps import depends_on
from agora.platform.errors import Unauthorized


class TokenFirstRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        if not depends_on(self.dependant, required_user_id):
            return handler

        async def token_first(request: Request) -> Response:
            if not request.headers.get("authorization"):
                raise Unauthorized("is missing", field="token")
            return await handler(request)

        return token_first
