"""Every route answers its path with a trailing slash too, directly rather than by a redirect.

Starlette answers ``POST /api/articles/`` with a 307 to ``/api/articles``: a second round trip
for every front end that writes the slash (the Angular RealWorld app does, to create an article).
Routes stay declared once, without the slash, so the OpenAPI document lists each once; this
middleware drops the slash before routing when the path without it is a route's. ``/`` itself and
mounts (``/media``) are left as they are.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from agora.platform.route_index import RouteIndex


class TrailingSlashMiddleware:
    def __init__(self, app: ASGIApp, *, routes: RouteIndex) -> None:
        self.app = app
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            path: str = scope["path"]
            if len(path) > 1 and path.endswith("/") and self.routes.serves(path[:-1]):
                scope = {**scope, "path": path[:-1]}
                raw_path: bytes | None = scope.get("raw_path")
                if raw_path is not None and raw_path.endswith(b"/"):
                    scope["raw_path"] = raw_path[:-1]
        await self.app(scope, receive, send)
