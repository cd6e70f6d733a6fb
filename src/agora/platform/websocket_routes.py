"""WebSocket endpoints served ahead of the HTTP middleware.

A WebSocket lives for hours, and every ASGI layer it passes through keeps its coroutine frame,
closures and wrappers alive for as long (request ids, metrics, CORS, security headers, the error
boundary, the body limit, FastAPI's and Starlette's own layers, FastAPI's routing and exit
stacks): some 10 KB per idle connection at first, then a quarter of a kilobyte for each layer
that was left, none of which does anything for a socket. So the application itself
(``WebSocketsFirstApp.__call__``) hands a WebSocket for one of the paths named here straight to its
endpoint, with the proxy headers applied as the middleware would (the client's address and
scheme stay right). The endpoints handle their own errors and close codes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket

from agora.platform.forwarded import ForwardedHeaders
from agora.platform.provided import ProvidingApp

# returns the connection's coroutine rather than being one: one frame fewer kept per connection
WebSocketEndpoint = Callable[[WebSocket], Awaitable[None]]


class WebSocketRoutes:
    def __init__(
        self, endpoints: Mapping[str, WebSocketEndpoint], *, forwarded: ForwardedHeaders
    ) -> None:
        self._endpoints = dict(endpoints)
        self._forwarded = forwarded

    def endpoint(self, scope: Scope) -> WebSocketEndpoint | None:
        return self._endpoints.get(scope["path"].rstrip("/") or "/")

    async def websocket(self, scope: Scope, receive: Receive, send: Send) -> WebSocket:
        return WebSocket(await self._forwarded.apply(scope), receive, send)


class WebSocketsFirstApp(ProvidingApp):
    """The application: a WebSocket for one of ``websockets``' paths goes straight to its
    endpoint, everything else through the middleware as usual."""

    def __init__(self, *, websockets: WebSocketRoutes, **options: Any) -> None:
        super().__init__(**options)
        self.websockets = websockets

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket" and (endpoint := self.websockets.endpoint(scope)):
            scope["app"] = self  # as Starlette sets it: the endpoints find what was provided
            await endpoint(await self.websockets.websocket(scope, receive, send))
            return
        await super().__call__(scope, receive, send)
