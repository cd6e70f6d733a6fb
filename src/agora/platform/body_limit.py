"""Refuses request bodies over a size limit with 413, before the application reads them whole."""

from __future__ import annotations

from collections.abc import Callable

from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agora.platform.error_formats import ErrorFormats


def _message(limit: int) -> str:
    return f"is too large (the limit is {limit} bytes)"


class _BodyTooLarge(HTTPException):
    # an HTTPException, so the framework's body parser lets it through to the error handler
    def __init__(self, limit: int) -> None:
        super().__init__(status_code=413, detail=_message(limit))


class BodyLimitMiddleware:
    """``limit_for(path)`` gives the limit for a path, so upload routes can allow more; the 413
    speaks the path's error format."""

    def __init__(
        self, app: ASGIApp, *, limit_for: Callable[[str], int], formats: ErrorFormats
    ) -> None:
        self.app = app
        self.limit_for = limit_for
        self.formats = formats

    def _too_large(self, path: str, limit: int) -> Response:
        return self.formats.for_path(path).response(413, {"body": [_message(limit)]})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        for name, value in scope["headers"]:
            if name == b"content-length":
                if not value.isdigit() or int(value) > limit:
                    await self._too_large(scope["path"], limit)(scope, receive, send)
                    return
                break

        received = 0
        response_started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _BodyTooLarge(limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _BodyTooLarge:
            # a chunked body without Content-Length grew past the limit while being read
            if not response_started:
                await self._too_large(scope["path"], limit)(scope, receive, send)
