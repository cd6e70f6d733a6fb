"""What /openapi.json says beyond FastAPI's own document, so that it describes what the server does:
every error status a route can give, in the shape it is really sent, and which routes welcome
anonymous readers."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.routing import BaseRoute

from agora.platform.deps import depends_on

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


def _anonymous_welcome(
    schema: dict[str, Any], routes: Iterable[BaseRoute], signed_in: Callable[..., Any]
) -> dict[str, Any]:
    # FastAPI documents every security dependency as required, even one with auto_error=False;
    # a route that reads the token when it is sent but does not need it answers anonymous
    # readers too, which OpenAPI says with an empty requirement beside the scheme's
    for route in routes:
        if not isinstance(route, APIRoute) or depends_on(route.dependant, signed_in):
            continue
        for method in route.methods or ():
            operation = schema["paths"].get(route.path_format, {}).get(method.lower(), {})
            if operation.get("security"):
                operation["security"] = [{}, *operation["security"]]
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


def document_api(
    app: FastAPI, *, routes: Iterable[BaseRoute], signed_in: Callable[..., Any]
) -> None:
    """Completes the app's OpenAPI document. ``routes`` are the app's routes, ``signed_in`` the
    dependency that refuses anonymous requests.

    * FastAPI documents its own 422 body, ``{"detail": [...]}``, on every route with parameters
      that declares none; the error handler answers ``{"errors": {...}}``, so the document says so.
    * The statuses every route may give (413, 503) are documented on each.
    * Routes that read a token without needing one: ``security: [{}, {"Token": []}]``.
    """
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = _errors_of_the_platform(_generic_validation_errors(generate()))
            app.openapi_schema = _anonymous_welcome(schema, routes, signed_in)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
