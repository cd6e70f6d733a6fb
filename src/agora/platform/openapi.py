"""OpenAPI descriptions of the error responses, so /docs shows every status a route can give."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel

_DESCRIPTIONS = {
    401: "Missing, invalid or expired token, or wrong credentials",
    403: "Signed in, but not allowed to do this",
    404: "No such resource",
    409: "Conflicts with existing data (already taken)",
    413: "The request body is too large",
    415: "The uploaded file is not of an accepted type",
    422: "The request is malformed or a field is invalid",
    429: "Too many attempts; see Retry-After",
    503: "Temporarily unavailable: a dependency is down or the server is busy; see Retry-After",
}


class GenericError(BaseModel):
    """``{"errors": {"field": ["message", ...]}}``"""

    errors: dict[str, list[str]]


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: {"model": GenericError, "description": _DESCRIPTIONS[code]} for code in codes}


_FASTAPI_422 = {"$ref": "#/components/schemas/HTTPValidationError"}
_GENERIC_ERROR = {"$ref": "#/components/schemas/GenericError"}


def _generic_validation_errors(schema: dict[str, Any]) -> dict[str, Any]:
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            response = operation.get("responses", {}).get("422", {})
            content = response.get("content", {}).get("application/json", {})
            if content.get("schema") == _FASTAPI_422:
                content["schema"] = dict(_GENERIC_ERROR)
                response["description"] = _DESCRIPTIONS[422]
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.setdefault("GenericError", GenericError.model_json_schema())
    # only FastAPI's default 422 used these two
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    return schema


def _errors_of_the_platform(schema: dict[str, Any]) -> dict[str, Any]:
    """What any API route may answer, whatever it declares: 413 where it takes a body (the body
    limit), 503 when the database cannot serve for a moment (``platform/db_outages.py``)."""
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            if "operations" in operation.get("tags", []):
                continue  # health, metrics, ping: their own answers
            responses = operation.setdefault("responses", {})
            codes = (413, 503) if "requestBody" in operation else (503,)
            for code in codes:
                responses.setdefault(
                    str(code),
                    {
                        "description": _DESCRIPTIONS[code],
                        "content": {"application/json": {"schema": dict(_GENERIC_ERROR)}},
                    },
                )
    return schema


def document_error_responses(app: FastAPI) -> None:
    """FastAPI documents its own 422 body, ``{"detail": [...]}``, on every route with parameters
    that declares none; the error handler answers ``{"errors": {...}}``, so the document says so.
    And the statuses every route may give (413, 503) are documented on each."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _errors_of_the_platform(_generic_validation_errors(generate()))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
