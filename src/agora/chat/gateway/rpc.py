"""JSON-RPC 2.0 framing (https://www.jsonrpc.org/specification): a text frame in, the calls it
holds out; a call's outcome in, the text frame that answers it out. No method is known here.

What the spec asks, and what this module does:

- a frame that is not JSON: one ``-32700`` error, id null;
- a frame that is JSON but not a request (not an object, no ``"jsonrpc": "2.0"``, a method that
  is not a string, params that are neither object nor array, an id that is not a string, an
  integer or null) and an empty batch: ``-32600``, id null;
- a batch: each member on its own; the answers go back as one array, without those of
  notifications; a batch of notifications only gets no answer at all;
- a notification (no ``id`` member) is never answered, not even with an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from agora.platform.jsonrpc import (
    INVALID_REQUEST,
    PARSE_ERROR,
    ErrorObject,
    RequestId,
    error_response,
)

# calls in one batch: more is refused as a whole (a client sends a few, not thousands)
MAX_BATCH = 100

_NO_ID = object()


@dataclass(frozen=True, slots=True)
class Call:
    method: str
    params: dict[str, Any] | list[Any] | None
    # the request's id; `notification` when it had none (then nothing is answered)
    id: RequestId
    notification: bool


@dataclass(frozen=True, slots=True)
class Invalid:
    """A member of the frame that is not a request: answered with this error, id null."""

    error: ErrorObject


Item = Call | Invalid


@dataclass(frozen=True, slots=True)
class Frame:
    items: list[Item]
    batch: bool


def _error(code: int, message: str) -> ErrorObject:
    return {"code": code, "message": message}


PARSE_FAILED = _error(PARSE_ERROR, "parse error: the frame is not JSON")
EMPTY_BATCH = _error(INVALID_REQUEST, "invalid request: an empty batch")
BATCH_TOO_LARGE = _error(INVALID_REQUEST, f"invalid request: over {MAX_BATCH} calls in a batch")


class ParseFailed(Exception):
    """The frame is not JSON, or an empty or oversized batch: one error answers it."""

    def __init__(self, error: ErrorObject) -> None:
        super().__init__(error["message"])
        self.error = error


def parse(text: str) -> Frame:
    """The calls a text frame holds; ``ParseFailed`` when the frame as a whole is refused."""
    try:
        document = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise ParseFailed(PARSE_FAILED) from None
    if isinstance(document, list):
        if not document:
            raise ParseFailed(EMPTY_BATCH)
        if len(document) > MAX_BATCH:
            raise ParseFailed(BATCH_TOO_LARGE)
        return Frame([_item(member) for member in document], batch=True)
    return Frame([_item(document)], batch=False)


def _invalid(reason: str) -> Invalid:
    return Invalid(_error(INVALID_REQUEST, f"invalid request: {reason}"))


def _item(member: object) -> Item:
    if not isinstance(member, dict):
        return _invalid("a request is a JSON object")
    if member.get("jsonrpc") != "2.0":
        return _invalid('"jsonrpc" must be "2.0"')
    method = member.get("method")
    if not isinstance(method, str):
        return _invalid('"method" must be a string')
    params = member.get("params")
    if "params" in member and not isinstance(params, dict | list):
        return _invalid('"params" must be an object or an array')
    request_id = member.get("id", _NO_ID)
    if request_id is _NO_ID:
        return Call(method, params, None, notification=True)
    # a boolean is an int to Python; a fraction SHOULD NOT be an id (the spec), and is refused
    if isinstance(request_id, bool) or not isinstance(request_id, str | int | None):
        return _invalid('"id" must be a string, an integer or null')
    return Call(method, params, request_id, notification=False)


def result_frame(request_id: RequestId, result: object) -> bytes:
    return orjson.dumps({"jsonrpc": "2.0", "result": result, "id": request_id})


def error_frame(request_id: RequestId, error: ErrorObject) -> bytes:
    return orjson.dumps(error_response(request_id, error))


def batch_frame(answers: list[bytes]) -> bytes:
    """Answers already encoded, joined into one array without decoding them again."""
    return b"[" + b",".join(answers) + b"]"


def notification_text(method: str, params_json: str) -> str:
    """``notification_frame`` for params that come as text (a replay's, from the database)."""
    return '{"jsonrpc":"2.0","method":"' + method + '","params":' + params_json + "}"


def notification_frame(method: str, params_json: bytes) -> bytes:
    """A notification around params encoded once (``orjson.dumps``): the same bytes go to
    every recipient."""
    return b'{"jsonrpc":"2.0","method":"' + method.encode() + b'","params":' + params_json + b"}"
