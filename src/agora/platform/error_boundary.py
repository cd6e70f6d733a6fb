"""The last catch for bugs: a 500 in RealWorld's shape that leaves the connection usable.

Starlette's outermost ``ServerErrorMiddleware`` answers an unhandled exception with a 500 and then
raises it again for the server to log; the server then closes the kept-alive connection without
``Connection: close``, and the client's next request on it fails too. This middleware sits inside
CORS, the security headers, the request id and the metrics, so the 500 it sends carries all of
them, is logged once and counted once, and the server never sees the exception.
"""

from __future__ import annotations

import structlog
from asgi_correlation_id.context import correlation_id
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = structlog.get_logger("agora.errors")

INTERNAL_ERROR = {"errors": {"body": ["internal error"]}}
_LOGGED = "_agora_logged"


def log_unexpected(path: str, exc: BaseException) -> None:
    """Logs a bug once, however many layers it passes through."""
    if getattr(exc, _LOGGED, False):
        return
    log.error("unhandled error", path=path, request_id=correlation_id.get(), exc_info=exc)
    setattr(exc, _LOGGED, True)


def internal_error(*, closing: bool = False) -> JSONResponse:
    """``closing``: the server will close the connection after this answer, so it says so."""
    headers = {"Connection": "close"} if closing else None
    return JSONResponse(INTERNAL_ERROR, status_code=500, headers=headers)


class ErrorBoundaryMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

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
                await internal_error()(scope, receive, send)
            elif not completed:
                # half an answer is out: only closing the connection can tell the client, and
                # the server does that for an exception that reaches it
                raise
            # else the client has its whole answer and the connection is in a clean state
