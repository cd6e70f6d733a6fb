"""Who and where the client really is behind a reverse proxy, believed only from trusted proxies.

uvicorn's ``ProxyHeadersMiddleware`` takes the scheme (``X-Forwarded-Proto``) and the client's
address (``X-Forwarded-For``) from the proxies it trusts; this adds the host the client asked for
(``X-Forwarded-Host``), on the same trust, so that URLs built from the request (avatars, feed
links) point where the client can reach. From any other peer those headers are ignored: a client
could otherwise make the server hand out links to a host of its choosing.

The app applies it itself, not uvicorn, because only here is the peer still the proxy: once
uvicorn has rewritten the client's address, a forged header could no longer be told apart.
"""

from __future__ import annotations

import re
from typing import Any, cast

from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

# a host name, IPv4 or bracketed IPv6 address, and an optional port: nothing a URL would misread
_HOST = re.compile(rb"[A-Za-z0-9.\-]+(:[0-9]{1,5})?|\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?")


def _forwarded_host(headers: list[tuple[bytes, bytes]]) -> bytes | None:
    values = [value for name, value in headers if name == b"x-forwarded-host"]
    if not values:
        return None
    # each proxy on the way may append: the last value is the one our own proxy wrote
    host = b",".join(values).rsplit(b",", 1)[-1].strip()
    return host if _HOST.fullmatch(host) else None


async def _nothing(scope: Scope, receive: Receive, send: Send) -> None:
    """The app behind uvicorn's middleware when only its rewriting of the scope is wanted."""


class ForwardedHeaders:
    """The scope as the client sent it, where a trusted proxy says so."""

    def __init__(self, *, trusted_hosts: str) -> None:
        # uvicorn's middleware sets the scheme and the client on the scope it is given, then
        # calls its app: here one that does nothing (uvicorn's ASGI types are its own TypedDicts)
        self._proxy_headers: Any = ProxyHeadersMiddleware(cast(Any, _nothing), trusted_hosts)

    async def apply(self, scope: Scope) -> Scope:
        client = scope.get("client")
        if client and client[0] in self._proxy_headers.trusted_hosts:
            host = _forwarded_host(scope["headers"])
            if host is not None:
                headers = [(name, value) for name, value in scope["headers"] if name != b"host"]
                scope = {**scope, "headers": [*headers, (b"host", host)]}
        await self._proxy_headers(scope, _nothing, _nothing)
        return scope


class ForwardedHeadersMiddleware:
    def __init__(self, app: ASGIApp, *, forwarded: ForwardedHeaders) -> None:
        self.app = app
        self.forwarded = forwarded

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            scope = await self.forwarded.apply(scope)
        await self.app(scope, receive, send)
