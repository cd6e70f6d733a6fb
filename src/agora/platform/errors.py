"""Domain errors: what went wrong, in words of the domain, never of a protocol.

A service raises ``NotFound("not found", field="article")``; which status, body and media type
that becomes is the business of the route that was asked (``platform/error_formats.py`` for HTTP,
``platform/jsonrpc.py`` for the chat's WebSocket), so one service serves every protocol.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorKind(StrEnum):
    """What kind of failure: each wire format maps these to its own codes."""

    INVALID = "invalid"
    UNAUTHORIZED = "unauthorized"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    TOO_LARGE = "too_large"
    UNSUPPORTED_MEDIA = "unsupported_media"
    RATE_LIMITED = "rate_limited"
    UNAVAILABLE = "unavailable"


class DomainError(Exception):
    """Base of every error a service may raise on purpose.

    ``field`` names what was wrong (``"email"``, ``"article"``), or is None when the request as
    a whole was; ``message`` says it in a few lower-case words read after the field's name
    ("has already been taken"); ``retry_after``: seconds after which trying again makes sense.
    """

    kind: ErrorKind

    def __init__(
        self, message: str, *, field: str | None = None, retry_after: int | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.retry_after = retry_after


def sentence(field: str | None, message: str) -> str:
    """A field's message as a sentence of its own: ``email has already been taken``."""
    return message if field is None else f"{field} {message}"


class Invalid(DomainError):
    kind = ErrorKind.INVALID


class Unauthorized(DomainError):
    kind = ErrorKind.UNAUTHORIZED


class Forbidden(DomainError):
    kind = ErrorKind.FORBIDDEN


class NotFound(DomainError):
    kind = ErrorKind.NOT_FOUND


class Conflict(DomainError):
    kind = ErrorKind.CONFLICT


class PayloadTooLarge(DomainError):
    kind = ErrorKind.TOO_LARGE


class UnsupportedMediaType(DomainError):
    kind = ErrorKind.UNSUPPORTED_MEDIA


class TooManyRequests(DomainError):
    kind = ErrorKind.RATE_LIMITED
    retry_after: int

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message, retry_after=retry_after)


class Unavailable(DomainError):
    """Not the request's fault: a dependency is down or the server is saturated for a moment."""

    kind = ErrorKind.UNAVAILABLE
    retry_after: int

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message, retry_after=retry_after)
