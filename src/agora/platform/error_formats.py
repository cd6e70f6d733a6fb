"""How a failure looks on the wire over HTTP, and which look each path gets.

A failure reaches a format as an HTTP status and its messages by field (``Problems``: None for
the request as a whole). Two formats:

- ``REALWORLD``: ``{"errors": {field: [message, ...]}}`` as ``application/json``, what every
  RealWorld client reads (the blog and identity); a failure of no field is reported on ``body``.
- ``PROBLEM_DETAILS``: RFC 9457 ``application/problem+json``, for the shop's and the chat's REST
  routes: ``type`` (``about:blank``: the status says it all), ``title`` (the status's phrase),
  ``status``, ``detail`` (the messages as sentences) and, when fields were wrong, ``errors``:
  ``[{"field": ..., "detail": ...}]`` (the extension member RFC 9457's own example uses).

Each context's router chooses its format (``Api``); ``ErrorFormats`` answers which format a path
speaks, by the longest prefix a router was mounted under, so that failures no route raised (an
unknown path, a 405, a body over the limit, a validation error, a 500, a 503) speak it too.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel
from starlette.responses import JSONResponse

from agora.platform.errors import DomainError, ErrorKind, sentence

# what was wrong, by field (None: the request as a whole)
Problems = Mapping[str | None, Sequence[str]]

# the HTTP status of each kind of domain error, whatever the format
HTTP_STATUS: dict[ErrorKind, int] = {
    ErrorKind.INVALID: 422,
    ErrorKind.UNAUTHORIZED: 401,
    ErrorKind.FORBIDDEN: 403,
    ErrorKind.NOT_FOUND: 404,
    ErrorKind.CONFLICT: 409,
    ErrorKind.TOO_LARGE: 413,
    ErrorKind.UNSUPPORTED_MEDIA: 415,
    ErrorKind.RATE_LIMITED: 429,
    ErrorKind.UNAVAILABLE: 503,
}


def problems_of(error: DomainError) -> Problems:
    return {error.field: [error.message]}


class ErrorFormat(ABC):
    media_type: str
    # the OpenAPI document's name for the body, and the model that describes it
    schema_name: str
    model: type[BaseModel]

    @abstractmethod
    def body(self, status: int, problems: Problems) -> dict[str, Any]: ...

    def response(
        self, status: int, problems: Problems, headers: Mapping[str, str] | None = None
    ) -> JSONResponse:
        return JSONResponse(
            self.body(status, problems),
            status_code=status,
            headers=headers,
            media_type=self.media_type,
        )

    def error_response(self, error: DomainError) -> JSONResponse:
        headers = None if error.retry_after is None else {"Retry-After": str(error.retry_after)}
        return self.response(HTTP_STATUS[error.kind], problems_of(error), headers)


class GenericError(BaseModel):
    """``{"errors": {"field": ["message", ...]}}``"""

    errors: dict[str, list[str]]


class RealWorldErrors(ErrorFormat):
    media_type = "application/json"
    schema_name = "GenericError"
    model = GenericError

    def body(self, status: int, problems: Problems) -> dict[str, Any]:
        errors: dict[str, list[str]] = {}
        for field, messages in problems.items():
            errors.setdefault(field or "body", []).extend(messages)
        return {"errors": errors}


class FieldProblem(BaseModel):
    field: str
    detail: str


class ProblemDetail(BaseModel):
    """RFC 9457 problem details, with the fields that were wrong in ``errors``."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    errors: list[FieldProblem] | None = None


class ProblemDetails(ErrorFormat):
    media_type = "application/problem+json"
    schema_name = "ProblemDetail"
    model = ProblemDetail

    def body(self, status: int, problems: Problems) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": "about:blank",
            "title": HTTPStatus(status).phrase,
            "status": status,
            "detail": "; ".join(
                sentence(field, message)
                for field, messages in problems.items()
                for message in messages
            ),
        }
        fields = [
            {"field": field, "detail": message}
            for field, messages in problems.items()
            if field is not None
            for message in messages
        ]
        if fields:
            body["errors"] = fields
        return body


REALWORLD = RealWorldErrors()
PROBLEM_DETAILS = ProblemDetails()


@dataclass(frozen=True, slots=True)
class Api:
    """A context's routes and the error format its clients read: the root mounts the router and
    answers every failure under its prefix in that format."""

    router: APIRouter
    errors: ErrorFormat


def _owns(prefix: str, path: str) -> bool:
    return path == prefix or path.startswith(f"{prefix}/")


class ErrorFormats:
    """Which format answers a path: the one of the longest prefix that owns it, else the default
    (paths no context owns: ``/docs``, ``/healthz``, a typo)."""

    def __init__(self, default: ErrorFormat) -> None:
        self.default = default
        self._owners: dict[str, ErrorFormat] = {}

    def own(self, prefix: str, error_format: ErrorFormat) -> None:
        prefix = prefix.rstrip("/")
        if not prefix:
            raise ValueError("a context's routes need a prefix of their own to own its errors")
        if self._owners.setdefault(prefix, error_format) is not error_format:
            raise ValueError(f"two error formats claim the paths under {prefix}")
        # longest first, so /api/shop wins over /api
        self._owners = dict(sorted(self._owners.items(), key=lambda owner: -len(owner[0])))

    def for_path(self, path: str) -> ErrorFormat:
        for prefix, error_format in self._owners.items():
            if _owns(prefix, path):
                return error_format
        return self.default

    def owners(self) -> Mapping[str, ErrorFormat]:
        return self._owners
