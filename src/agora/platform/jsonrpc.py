"""JSON-RPC 2.0 error objects (spec section 5.1), for the chat's WebSocket.

The same domain errors the REST routes answer with a status become an error object here:
``{"code": ..., "message": ..., "data": {"kind": ..., "field": ..., "retryAfter": ...}}``.

Codes: the spec's own where one fits (a call whose params are wrong is ``-32602``, a bug is
``-32603``, a server that cannot serve for a moment is ``-32000``, the first of the
implementation-defined server errors); the other kinds are application errors, outside the
reserved range, numbered like the HTTP status of the same meaning so that they read at a glance.
``data.kind`` names the kind in words for clients that switch on it.
"""

from __future__ import annotations

from typing import Any, NotRequired, TypedDict

from agora.platform.error_formats import HTTP_STATUS, Problems
from agora.platform.errors import DomainError, ErrorKind, sentence

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
SERVER_UNAVAILABLE = -32000

CODES: dict[ErrorKind, int] = {
    **HTTP_STATUS,
    ErrorKind.INVALID: INVALID_PARAMS,
    ErrorKind.UNAVAILABLE: SERVER_UNAVAILABLE,
}

RequestId = str | int | None


class ErrorObject(TypedDict):
    code: int
    message: str
    data: NotRequired[dict[str, Any]]


class ErrorResponse(TypedDict):
    jsonrpc: str
    error: ErrorObject
    id: RequestId


def error_object(error: DomainError) -> ErrorObject:
    data: dict[str, Any] = {"kind": error.kind.value}
    if error.field is not None:
        data["field"] = error.field
    if error.retry_after is not None:
        data["retryAfter"] = error.retry_after
    return {
        "code": CODES[error.kind],
        "message": sentence(error.field, error.message),
        "data": data,
    }


def invalid_params(problems: Problems) -> ErrorObject:
    """The params of a call failed validation: every message, by field."""
    return {
        "code": INVALID_PARAMS,
        "message": "; ".join(
            sentence(field, message) for field, messages in problems.items() for message in messages
        ),
        "data": {
            "kind": ErrorKind.INVALID.value,
            "errors": {field or "params": list(messages) for field, messages in problems.items()},
        },
    }


def internal_error() -> ErrorObject:
    # what went wrong stays in the server's log: a bug's details help no client
    return {"code": INTERNAL_ERROR, "message": "internal error"}


def error_response(request_id: RequestId, error: ErrorObject) -> ErrorResponse:
    """The whole response to a call that failed; ``request_id`` None when the request's own id
    could not be read (a parse error, an invalid request)."""
    return {"jsonrpc": "2.0", "error": error, "id": request_id}
