"""WebSocket endpoints served past the HTTP middleware.

A WebSocket lives for hours, and every ASGI layer it passes through keeps its frames, closures
and wrappers alive for as long (request ids, metrics, CORS, security headers, the error boundary,
the body limit, FastAPI's routing and exit stacks): about 10 KB per idle connection here, none of
which does anything for a socket. So the endpoints named here are called straight from this
middleware, which sits just inside the proxy-headers one (the client's address stays right).
They handle their own errors and close codes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket

WebSocketEndpoint = Callable[[WebSocket], Awaitable[None]]


class WebSocketRoutesMiddleware:
    def __init__(self, app: ASGIApp, *, endpoints: Mapping[str, WebSocketEndpoint]) -> None:
        self.app = app
        self.endpoints = dict(endpoints)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            endpoint = self.endpoints.get(scope["path"].rstrip("/") or "/")
            if endpoint is not None:
                await endpoint(WebSocket(scope, receive, send))
                return
        await self.app(scope, receive, send)
