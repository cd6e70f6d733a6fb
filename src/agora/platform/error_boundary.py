"""The last catch for bugs: a 500 in the path's error format that leaves the connection usable.

Starlette's outermost ``ServerErrorMiddleware`` answers an unhandled exception with a 500 and then
raises it again for the server to log; the server then closes the kept-alive connection without
``Connection: close``, and the client's next request on it fails too. This middleware sits inside
CORS, the security headers, the request id and the metrics, so the 500 it sends carries all of
them, is logged once and counted once, and the server never sees the exception.
"""

from __future__ import annotations

import structlog
from asgi_correlation_id.context import correlation_id
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agora.platform.error_formats import ErrorFormat, ErrorFormats

log = structlog.get_logger("agora.errors")

_LOGGED = "_agora_logged"


def log_unexpected(path: str, exc: BaseException) -> None:
    """Logs a bug once, however many layers it passes through."""
    if getattr(exc, _LOGGED, False):
        return
    log.error("unhandled error", path=path, request_id=correlation_id.get(), exc_info=exc)
    setattr(exc, _LOGGED, True)


def internal_error(error_format: ErrorFormat, *, closing: bool = False) -> Response:
    """``closing``: the server will close the connection after this answer, so it says so."""
    headers = {"Connection": "close"} if closing else None
    return error_format.response(500, {None: ["internal error"]}, headers)


class ErrorBoundaryMiddleware:
    def __init__(self, app: ASGIApp, *, formats: ErrorFormats) -> None:
        self.app = app
        self.formats = formats

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = completed = False

        async def tracking_send(message: Message) -> None:
            nonlocal started, completed
            if message["type"] == "http.response.start":
                started = True
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                completed = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            log_unexpected(scope["path"], exc)
            if not started:
                error_format = self.formats.for_path(scope["path"])
                await internal_error(error_format)(scope, receive, send)
            elif not completed:
                # half an answer is out: only closing the connection can tell the client, and
                # the server does that for an exception that reaches it
                raise
            # else the client has its whole answer and the connection is in a clean state
