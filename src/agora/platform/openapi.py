"""What /openapi.json says beyond FastAPI's own document, so that it describes what the server does:
every error status a route can give, in the format its path really speaks (RealWorld's
``GenericError`` for the blog and identity, RFC 9457 ``ProblemDetail`` for problem-details
routes), and which routes welcome anonymous readers."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.routing import BaseRoute

from agora.platform.deps import depends_on
from agora.platform.error_formats import ErrorFormats

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


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The error statuses a route declares; their bodies are documented in the format of the
    path's owner when the document is generated (``document_api``)."""
    return {code: {"description": _DESCRIPTIONS[code]} for code in codes}


def _is_error(status: str) -> bool:
    return status[0] in "45"


def _error_shapes(schema: dict[str, Any], formats: ErrorFormats) -> dict[str, Any]:
    """Every error response of a route, FastAPI's own 422 included, gets the body of the format
    its path speaks; what any route may answer whatever it declares is added: 413 where it
    takes a body (the body limit), 503 when the database cannot serve for a moment."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for path, operations in schema.get("paths", {}).items():
        error_format = formats.for_path(path)
        content = {
            error_format.media_type: {
                "schema": {"$ref": f"#/components/schemas/{error_format.schema_name}"}
            }
        }
        used = False
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            if "operations" not in operation.get("tags", []):  # health, metrics: their own
                codes = ("413", "503") if "requestBody" in operation else ("503",)
                for code in codes:
                    responses.setdefault(code, {"description": _DESCRIPTIONS[int(code)]})
            for status, response in responses.items():
                if _is_error(status):
                    if status == "422":  # FastAPI's own says {"detail": [...]}
                        response["description"] = _DESCRIPTIONS[422]
                    response["content"] = dict(content)
                    used = True
        if used and error_format.schema_name not in components:
            _add_model(components, error_format.schema_name, error_format.model)
    # only FastAPI's default 422 used these two
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    return schema


def _add_model(components: dict[str, Any], name: str, model: type[BaseModel]) -> None:
    model_schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(model_schema.pop("$defs", {}))
    components[name] = model_schema


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


def document_api(
    app: FastAPI,
    *,
    routes: Iterable[BaseRoute],
    signed_in: Callable[..., Any],
    formats: ErrorFormats,
) -> None:
    """Completes the app's OpenAPI document. ``routes`` are the app's routes, ``signed_in`` the
    dependency that refuses anonymous requests, ``formats`` the error format of each path.

    * Every error response carries the body its path's format really sends, FastAPI's own 422
      (``{"detail": [...]}``, on every route with parameters) included.
    * The statuses every route may give (413, 503) are documented on each.
    * Routes that read a token without needing one: ``security: [{}, {"Token": []}]``.
    """
    generate = app.openapi
    routes = list(routes)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = _error_shapes(generate(), formats)
            app.openapi_schema = _anonymous_welcome(schema, routes, signed_in)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
