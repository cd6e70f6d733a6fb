"""Maps every failure to a clear 4xx, or to a 503 with ``Retry-After`` when the database cannot
serve for a moment, in the error format of the path's owner (``platform/error_formats.py``).

Services raise domain errors; request parsing raises validation errors; both end here, so no route
formats an error by hand and nothing reaches the client as a bare 500. Validation errors become
messages by field here, once, whatever the format.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import DataError, DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from agora.platform.db_outages import RETRY_AFTER_SECONDS, UNREACHABLE_ERRORS, database_unavailable
from agora.platform.error_boundary import internal_error, log_unexpected
from agora.platform.error_formats import ErrorFormat, ErrorFormats
from agora.platform.errors import DomainError, Unavailable
from agora.platform.route_index import RouteIndex
from agora.platform.wire import VERBATIM

log = structlog.get_logger("agora.errors")

# FastAPI's detail when request.json() fails other than by syntax (bytes that are not UTF-8)
_UNDECODABLE_JSON = "There was an error parsing the body"
# Location parts that say where a value came from, not which field it is.
_CONTAINERS = {"body", "query", "path", "header", "cookie"}


def _field_of(loc: Sequence[int | str]) -> str:
    # only the first part names the container: ("body", "article", "body") is the field "body"
    parts = loc[1:] if loc and loc[0] in _CONTAINERS else loc
    names = [part for part in parts if isinstance(part, str)]
    return names[-1] if names else "body"


_OBJECT_EXPECTED = {"model_type", "model_attributes_type", "dict_type"}


def _message_of(error: Mapping[str, Any]) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    value = error.get("input")
    blank = value is None or (isinstance(value, str) and not value.strip())
    if kind == "missing" or (blank and kind != "json_invalid"):
        return "can't be blank"
    if kind in _OBJECT_EXPECTED and isinstance(value, (str, bytes)):
        # the body arrived, but not as JSON: usually a missing Content-Type header
        return "must be a JSON object sent with Content-Type: application/json"
    messages = {
        "json_invalid": "is not valid JSON",
        "string_too_short": "is too short (minimum is {min_length} characters)",
        "string_too_long": "is too long (maximum is {max_length} characters)",
        "string_type": "must be a string",
        # a lone surrogate ("\ud800" in JSON), which no UTF-8 store or response can carry
        "string_unicode": "must be valid Unicode text",
        "int_parsing": "must be an integer",
        "int_type": "must be an integer",
        "bool_type": "must be true or false",
        "bool_parsing": "must be true or false",
        "list_type": "must be a list",
        "model_type": "must be an object",
        "model_attributes_type": "must be an object",
        "dict_type": "must be an object",
        "greater_than_equal": "must be greater than or equal to {ge}",
        "less_than_equal": "must be less than or equal to {le}",
        "too_long": "has too many items (maximum is {max_length})",
        "value_error": "is invalid",
        "string_pattern_mismatch": "may contain only letters, digits, '_', '.' and '-'",
        "extra_forbidden": "is not a known field",
    }
    if kind == VERBATIM:
        return str(error.get("msg"))
    template = messages.get(kind)
    if template is None:
        return str(error.get("msg", "is invalid")).lower()
    return template.format(**ctx)


def validation_errors(errors: Sequence[Mapping[str, Any]]) -> dict[str | None, list[str]]:
    grouped: dict[str | None, list[str]] = {}
    for error in errors:
        message = _message_of(error)
        field_messages = grouped.setdefault(_field_of(error["loc"]), [])
        if message not in field_messages:
            field_messages.append(message)
    return grouped


def install_error_handlers(app: FastAPI, *, formats: ErrorFormats, routes: RouteIndex) -> None:
    """Every failure is answered in the format of the path's owner (``formats``); ``routes``
    names the methods a 405 lists in its ``Allow`` header."""

    def format_of(request: Request) -> ErrorFormat:
        return formats.for_path(request.scope["path"])

    async def on_domain_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, DomainError)
        return format_of(request).error_response(exc)

    async def on_validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return format_of(request).response(422, validation_errors(exc.errors()))

    async def on_http_exception(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        detail = exc.detail if isinstance(exc.detail, str) else "request failed"
        if exc.status_code == 400:
            # the framework's answer to a body it cannot decode (JSON that is not UTF-8, broken
            # multipart): malformed input like any other, so the documented 422, not an extra 400
            message = "is not valid JSON" if detail == _UNDECODABLE_JSON else "could not be parsed"
            return format_of(request).response(422, {"body": [message]})
        # Starlette's own texts for unmatched routes, in the lower-case style of the other messages
        message = {"Not Found": "not found", "Method Not Allowed": "method not allowed"}.get(
            detail, detail
        )
        headers = exc.headers
        if exc.status_code == 405:
            headers = {**(headers or {}), "Allow": routes.allowed_methods(request.scope["path"])}
        # the body limit's 413 names the body; the others, the request as a whole
        field = "body" if exc.status_code == 413 else None
        return format_of(request).response(exc.status_code, {field: [message]}, headers)

    async def on_data_error(request: Request, exc: Exception) -> Response:
        # the last line of defence: a value that passed validation but the database refuses to
        # store (out of range, an invalid character); the transaction is rolled back
        log.warning("database refused a value", path=request.url.path, error=type(exc).__name__)
        return format_of(request).response(
            422, {"body": ["contains a value that cannot be stored"]}
        )

    async def on_database_error(request: Request, exc: Exception) -> Response:
        if not database_unavailable(exc):
            log_unexpected(request.url.path, exc)
            return internal_error(format_of(request))
        # not the request's fault: the database restarts, or is out of connections for a moment
        log.warning("database unavailable", path=request.url.path, error=type(exc).__name__)
        unavailable = Unavailable(
            f"the service is unavailable for a moment; try again in {RETRY_AFTER_SECONDS} seconds",
            retry_after=RETRY_AFTER_SECONDS,
        )
        return format_of(request).error_response(unavailable)

    async def on_unexpected(request: Request, exc: Exception) -> Response:
        # only for a bug outside the error boundary (in an outer middleware): Starlette raises
        # the exception again after this answer and the server closes the connection, so it
        # says so
        log_unexpected(request.url.path, exc)
        return internal_error(format_of(request), closing=True)

    app.add_exception_handler(DomainError, on_domain_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_exception)
    app.add_exception_handler(DataError, on_data_error)
    for outage in (DBAPIError, PoolTimeout, *UNREACHABLE_ERRORS):
        app.add_exception_handler(outage, on_database_error)
    app.add_exception_handler(Exception, on_unexpected)
