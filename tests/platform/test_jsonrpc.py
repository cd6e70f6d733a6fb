"""JSON-RPC 2.0 error objects: the same domain errors, as the chat's WebSocket will send them."""

from __future__ import annotations

from agora.platform import jsonrpc
from agora.platform.errors import (
    Conflict,
    ErrorKind,
    Forbidden,
    Invalid,
    NotFound,
    PayloadTooLarge,
    TooManyRequests,
    Unauthorized,
    Unavailable,
    UnsupportedMediaType,
)


def test_every_kind_has_a_code_outside_the_reserved_range_unless_the_spec_has_one() -> None:
    assert set(jsonrpc.CODES) == set(ErrorKind)
    reserved = range(-32768, -31999)
    for kind, code in jsonrpc.CODES.items():
        if kind is ErrorKind.INVALID:
            assert code == jsonrpc.INVALID_PARAMS
        elif kind is ErrorKind.UNAVAILABLE:
            assert code == jsonrpc.SERVER_UNAVAILABLE  # implementation-defined server error
        else:
            assert code not in reserved, kind
    assert len(set(jsonrpc.CODES.values())) == len(jsonrpc.CODES), "one code, one meaning"


def test_each_domain_error_becomes_its_code() -> None:
    errors = [
        Invalid("can't be blank", field="text"),
        Unauthorized("is missing", field="token"),
        Forbidden("forbidden", field="room"),
        NotFound("not found", field="room"),
        Conflict("has already been taken", field="name"),
        PayloadTooLarge("is too large", field="text"),
        UnsupportedMediaType("must be an image", field="file"),
        TooManyRequests("slow down", retry_after=2),
        Unavailable("try again", retry_after=1),
    ]
    codes = [jsonrpc.error_object(error)["code"] for error in errors]

    assert codes == [jsonrpc.CODES[error.kind] for error in errors]
    assert len(set(codes)) == len(errors)


def test_an_error_object_says_what_and_where_in_words() -> None:
    assert jsonrpc.error_object(NotFound("not found", field="room")) == {
        "code": 404,
        "message": "room not found",
        "data": {"kind": "not_found", "field": "room"},
    }


def test_an_error_to_retry_says_when() -> None:
    assert jsonrpc.error_object(TooManyRequests("too many messages", retry_after=5)) == {
        "code": 429,
        "message": "too many messages",
        "data": {"kind": "rate_limited", "retryAfter": 5},
    }


def test_invalid_params_list_every_message_by_field() -> None:
    error = jsonrpc.invalid_params({"text": ["can't be blank"], None: ["must be an object"]})

    assert error == {
        "code": -32602,
        "message": "text can't be blank; must be an object",
        "data": {
            "kind": "invalid",
            "errors": {"text": ["can't be blank"], "params": ["must be an object"]},
        },
    }


def test_a_bug_tells_the_client_nothing_of_it() -> None:
    assert jsonrpc.internal_error() == {"code": -32603, "message": "internal error"}


def test_the_response_carries_the_calls_id_or_null() -> None:
    error = jsonrpc.error_object(Forbidden("forbidden", field="room"))

    assert jsonrpc.error_response(7, error) == {"jsonrpc": "2.0", "error": error, "id": 7}
    assert jsonrpc.error_response(None, jsonrpc.internal_error())["id"] is None
